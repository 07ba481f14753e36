package model

import (
	"sort"
	"strings"
)

// SplitParents splits an import's parent column: names separated by ";", blanks dropped.
func SplitParents(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ";") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// CycleMembers returns, sorted, every node of graph (node → its parents) that is its own
// ancestor.
func CycleMembers[K comparable](graph map[K][]K) []K {
	const (
		unseen = iota
		onPath
		done
	)
	mark := map[K]int{}
	inCycle := map[K]bool{}
	var path []K
	var visit func(n K)
	visit = func(n K) {
		mark[n] = onPath
		path = append(path, n)
		for _, p := range graph[n] {
			switch mark[p] {
			case unseen:
				visit(p)
			case onPath:
				for i := len(path) - 1; i >= 0; i-- {
					inCycle[path[i]] = true
					if path[i] == p {
						break
					}
				}
			}
		}
		path = path[:len(path)-1]
		mark[n] = done
	}
	keys := make([]K, 0, len(graph))
	for n := range graph {
		keys = append(keys, n)
	}
	for _, n := range keys {
		if mark[n] == unseen {
			visit(n)
		}
	}
	out := make([]K, 0, len(inCycle))
	for n := range inCycle {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return less(out[i], out[j]) })
	return out
}

func less[K comparable](a, b K) bool {
	switch x := any(a).(type) {
	case string:
		return x < any(b).(string)
	case int64:
		return x < any(b).(int64)
	}
	return false
}
