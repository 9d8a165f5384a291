// The example application of examples/Dockerfile's distroless stage: a static Go batch
// report (CGO_ENABLED=0, no libc at all), run by proa from the portable folder.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	since := flag.Duration("since", 24*time.Hour, "how far back the report looks")
	flag.Parse()
	host, _ := os.Hostname()
	fmt.Printf("report %s: generated at %s on %s\n", *since, time.Now().UTC().Format(time.RFC3339), host)
}
