package loadtest_test

import (
	"bufio"
	"context"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/loadtest"
)

// A server that announces a frame just under the 16 Mi-unit limit and
// trickles a few bytes of it must not make the load generator's connections
// buffer the announced length: it allocated twice that per connection (32
// MiB each) for about 100 bytes received. Not parallel: it reads the
// process's heap.
func TestRunBuffersAnnouncedFrameAsItArrives(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer ln.Close()
	stop := make(chan struct{})
	defer close(stop)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer nc.Close()
				if _, err := bufio.NewReader(nc).ReadString('}'); err != nil { // the first request's start
					return
				}
				nc.Write([]byte(`16777000#{"id":0,"response":"`))
				for range 16 {
					select {
					case <-stop:
						return
					case <-time.After(2 * time.Millisecond):
					}
					nc.Write([]byte("aaaa"))
				}
				<-stop
			}()
		}
	}()

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var peak atomic.Uint64
	sampled := make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for ctx.Err() == nil {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	loadtest.Run(ctx, loadtest.Config{
		Addr: ln.Addr().String(), Connections: 4, InFlight: 1, Duration: 10 * time.Second,
		Pattern: []byte(`"x"`), DrainTimeout: 50 * time.Millisecond,
	})
	cancel()
	<-sampled
	grew := int64(peak.Load()) - int64(before.HeapInuse)
	t.Logf("heap peaked %.1f MiB above the start: 4 connections, each sent ~100 bytes of an announced 16 Mi-unit frame", float64(grew)/(1<<20))
	if grew > 8<<20 {
		t.Errorf("the load generator held %.1f MiB more for 4 partial frames of ~100 bytes: its read buffers grow from the announced length", float64(grew)/(1<<20))
	}
}
