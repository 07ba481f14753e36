// Command gen writes the dashboards of package dashboards as JSON files into the current folder.
package main

import (
	"encoding/json"
	"log"
	"os"

	"github.com/wardops/wardops/dashboards"
)

func main() {
	for name, d := range dashboards.All() {
		b, err := json.MarshalIndent(d, "", "  ")
		if err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(name, append(b, '\n'), 0o644); err != nil {
			log.Fatal(err)
		}
	}
}
