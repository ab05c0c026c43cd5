package loadtest_test

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/msgpattern/msgpattern/loadtest"
)

// TestRunRefusesMoreThanMaxInFlight: every request in flight has a slot
// (a goroutine, for RunCalls) made before the run starts. Counts whose
// product is past MaxInFlight are an error, not a makeslice panic or the
// runtime running out of memory.
func TestRunRefusesMoreThanMaxInFlight(t *testing.T) {
	for _, cfg := range []loadtest.Config{
		{Connections: 1, InFlight: math.MaxInt / 2},
		{Connections: math.MaxInt / 2, InFlight: 1},
		{Connections: 1024, InFlight: 1025},
	} {
		cfg.Addr, cfg.Requests, cfg.Pattern = "127.0.0.1:1", 1, []byte(`"x"`)
		if _, err := loadtest.Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "MaxInFlight") {
			t.Errorf("Run with %d × %d in flight: %v; want the MaxInFlight error", cfg.Connections, cfg.InFlight, err)
		}
		called := false
		_, err := loadtest.RunCalls(context.Background(), cfg, func(context.Context, int) (string, error) { called = true; return "", nil })
		if err == nil || !strings.Contains(err.Error(), "MaxInFlight") || called {
			t.Errorf("RunCalls with %d × %d in flight: %v (called %v); want the MaxInFlight error", cfg.Connections, cfg.InFlight, err, called)
		}
	}
}
