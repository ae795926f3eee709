package main

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// The Go runtime keeps the heap it grew for a burst (a client sending the
// largest messages it may, or an attack) and gives it back to the OS only
// slowly, so after the burst barge would sit at its peak RSS for minutes.
// returnMemory checks every interval how much free heap the runtime keeps
// without having released it, and above threshold collects and releases it
// (debug.FreeOSMemory). In steady state the free heap stays under the
// threshold and it costs one metrics read per interval.
const (
	memoryCheckInterval = 5 * time.Second
	memoryFreeThreshold = 32 << 20
)

var heapFree = []metrics.Sample{{Name: "/memory/classes/heap/free:bytes"}}

// returnMemory runs until ctx ends.
func returnMemory(ctx context.Context, interval time.Duration, threshold uint64) {
	t := time.NewTicker(interval)
	defer t.Stop()
	sample := make([]metrics.Sample, len(heapFree))
	copy(sample, heapFree)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		metrics.Read(sample)
		if v := sample[0].Value; v.Kind() == metrics.KindUint64 && v.Uint64() > threshold {
			debug.FreeOSMemory()
		}
	}
}
