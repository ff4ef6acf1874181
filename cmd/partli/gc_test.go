package main

import (
	"runtime/debug"
	"testing"
)

// partli serve runs the collector at serveGCPercent, unless GOGC is set.
func TestServeTunesTheCollectorUnlessGOGCIsSet(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)

	t.Setenv("GOGC", "")
	tuneGC()
	if got := debug.SetGCPercent(100); got != serveGCPercent {
		t.Fatalf("without GOGC the collector's target is %d, want %d", got, serveGCPercent)
	}
	t.Setenv("GOGC", "150")
	debug.SetGCPercent(150) // as the runtime reads GOGC at start
	tuneGC()
	if got := debug.SetGCPercent(100); got != 150 {
		t.Fatalf("with GOGC=150 the collector's target is %d, want 150", got)
	}
}
