// Command gen writes the dashboards of package dashboards as JSON files into the current folder.
package main

import (
	"log"
	"os"

	"github.com/wardops/wardops/dashboards"
)

func main() {
	all, err := dashboards.All()
	if err != nil {
		log.Fatal(err)
	}
	for name, d := range all {
		b, err := dashboards.Marshal(d)
		if err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(name, b, 0o644); err != nil {
			log.Fatal(err)
		}
	}
}
