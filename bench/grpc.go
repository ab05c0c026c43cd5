package main

// The gRPC target: a unary Sum over real protobuf wire bytes, without protoc
// (and Shop/Checkout for the order shape: orderpb.go).
//
//	message SumRequest { int64 a = 1; int64 b = 2; string pad = 3; }
//	message SumReply   { int64 sum = 1; }
//	service Calc       { rpc Sum(SumRequest) returns (SumReply); }
//
// protoc is not installed, so the messages are plain Go structs and the codec
// (named "proto": gRPC-go sends a forced codec's name as the content-subtype,
// so the content-type is application/grpc+proto, which any gRPC peer reads
// as protobuf, as it does application/grpc)
// encodes them with google.golang.org/protobuf/encoding/protowire: the bytes
// on the wire are exactly those protoc-gen-go's code would produce, a real
// protobuf peer could talk to this service, and the encoding costs no more
// than generated code does (no reflection, no descriptor lookups: if
// anything this flatters gRPC). Like gRPC's own proto codec it is a CodecV2
// and decodes from a pooled buffer; like generated code it checks that
// string fields are UTF-8. Well-known types (structpb) would have given a
// map-based message costing far more than a real service's; wrapperspb has
// no two-field message.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
)

// SumRequest is the request message.
type SumRequest struct {
	A, B int64
	Pad  string
}

// SumReply is the reply message.
type SumReply struct {
	Sum int64
}

func (m *SumRequest) appendTo(b []byte) []byte {
	if m.A != 0 {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(m.A))
	}
	if m.B != 0 {
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(m.B))
	}
	if m.Pad != "" {
		b = protowire.AppendTag(b, 3, protowire.BytesType)
		b = protowire.AppendString(b, m.Pad)
	}
	return b
}

func (m *SumRequest) size() int {
	n := 0
	if m.A != 0 {
		n += 1 + protowire.SizeVarint(uint64(m.A))
	}
	if m.B != 0 {
		n += 1 + protowire.SizeVarint(uint64(m.B))
	}
	if m.Pad != "" {
		n += 1 + protowire.SizeBytes(len(m.Pad))
	}
	return n
}

func (m *SumReply) appendTo(b []byte) []byte {
	if m.Sum != 0 {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(m.Sum))
	}
	return b
}

func (m *SumReply) size() int {
	if m.Sum == 0 {
		return 0
	}
	return 1 + protowire.SizeVarint(uint64(m.Sum))
}

var errProto = errors.New("proto: cannot parse invalid wire-format data")

// unmarshalFields walks a message's fields, as generated code does:
// unknown fields are skipped.
func unmarshalFields(b []byte, field func(num protowire.Number, typ protowire.Type, b []byte) (int, error)) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errProto
		}
		b = b[n:]
		m, err := field(num, typ, b)
		if err != nil {
			return err
		}
		if m < 0 {
			m = protowire.ConsumeFieldValue(num, typ, b)
			if m < 0 {
				return errProto
			}
		}
		b = b[m:]
	}
	return nil
}

func (m *SumRequest) unmarshal(b []byte) error {
	*m = SumRequest{}
	return unmarshalFields(b, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch {
		case num == 1 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			m.A = int64(v)
			return checkLen(n)
		case num == 2 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			m.B = int64(v)
			return checkLen(n)
		case num == 3 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return 0, errProto
			}
			if !utf8.Valid(v) {
				return 0, errors.New("proto: string field contains invalid UTF-8")
			}
			m.Pad = string(v)
			return n, nil
		}
		return -1, nil
	})
}

func (m *SumReply) unmarshal(b []byte) error {
	*m = SumReply{}
	return unmarshalFields(b, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		if num == 1 && typ == protowire.VarintType {
			v, n := protowire.ConsumeVarint(b)
			m.Sum = int64(v)
			return checkLen(n)
		}
		return -1, nil
	})
}

func checkLen(n int) (int, error) {
	if n < 0 {
		return 0, errProto
	}
	return n, nil
}

// protoCodec is the CodecV2 for the suite's messages (these two, and
// orderpb.go's), modelled on gRPC's proto codec (small messages in a plain slice, larger ones in a pooled buffer).
type protoCodec struct{}

type message interface {
	size() int
	appendTo([]byte) []byte
	unmarshal([]byte) error
}

func (protoCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(message)
	if !ok {
		return nil, fmt.Errorf("protoCodec: cannot marshal %T", v)
	}
	size := m.size()
	if mem.IsBelowBufferPoolingThreshold(size) {
		return mem.BufferSlice{mem.SliceBuffer(m.appendTo(make([]byte, 0, size)))}, nil
	}
	pool := mem.DefaultBufferPool()
	buf := pool.Get(size)
	*buf = m.appendTo((*buf)[:0])
	return mem.BufferSlice{mem.NewBuffer(buf, pool)}, nil
}

func (protoCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(message)
	if !ok {
		return fmt.Errorf("protoCodec: cannot unmarshal into %T", v)
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	return m.unmarshal(buf.ReadOnlyData())
}

func (protoCodec) Name() string { return "proto" }

// ---- the load: gRPC-go's own client --------------------------------------------

// grpcResult is what one gRPC run measured.
type grpcResult struct {
	Requests uint64
	Errors   uint64
	Elapsed  time.Duration
	RPS      float64
	P50, P99 time.Duration
}

// grpcCall is the gRPC request of a payload: the method, its request
// message, a fresh reply message, and the check of every reply.
type grpcCall struct {
	method   string
	req      message
	newReply func() message
	check    func(message) error
}

// sumCall is the Sum call of the [1,2] and 4 KiB payloads, which answers 3.
func sumCall(req *SumRequest) *grpcCall {
	return &grpcCall{
		method:   sumMethod,
		req:      req,
		newReply: func() message { return new(SumReply) },
		check: func(m message) error {
			if got := m.(*SumReply).Sum; got != req.A+req.B {
				return fmt.Errorf("grpc: sum %d, want %d", got, req.A+req.B)
			}
			return nil
		},
	}
}

// runGRPC opens conns ClientConns to addr and keeps inflight calls
// outstanding on each (one goroutine per call in flight, each calling again
// as soon as its call returns) for d, timing and checking every call. Calls
// started before d ends are waited for and counted, as loadtest does.
func runGRPC(ctx context.Context, addr string, conns, inflight int, call *grpcCall, d time.Duration) (grpcResult, error) {
	ccs := make([]*grpc.ClientConn, conns)
	defer func() {
		for _, cc := range ccs {
			if cc != nil {
				cc.Close()
			}
		}
	}()
	for i := range ccs {
		cc, err := grpc.NewClient(addr,
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.ForceCodecV2(protoCodec{})))
		if err != nil {
			return grpcResult{}, err
		}
		ccs[i] = cc
		cc.Connect()
	}
	readyCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for _, cc := range ccs {
		for s := cc.GetState(); s != connectivity.Ready; s = cc.GetState() {
			if !cc.WaitForStateChange(readyCtx, s) {
				return grpcResult{}, fmt.Errorf("grpc: connection to %s not ready: %v", addr, s)
			}
		}
	}

	lr := closedLoop(ctx, conns*inflight, d, true, func(i int) func() error {
		cc, out := ccs[i/inflight], call.newReply()
		return func() error {
			if err := cc.Invoke(ctx, call.method, call.req, out); err != nil {
				return err
			}
			return call.check(out)
		}
	})
	total, elapsed := lr.total, lr.elapsed
	res := grpcResult{Requests: total.n, Errors: lr.errors, Elapsed: elapsed}
	res.RPS = float64(res.Requests) / elapsed.Seconds()
	res.P50, res.P99 = total.quantile(0.50), total.quantile(0.99)
	if lr.firstErr != nil && res.Errors > 0 {
		return res, fmt.Errorf("grpc: %d errors, first: %w", res.Errors, lr.firstErr)
	}
	return res, ctx.Err()
}

// ---- the closed loop ------------------------------------------------------------

// loopResult is what closedLoop measured.
type loopResult struct {
	total    *histogram // the calls timed
	errors   uint64     // the calls that failed
	firstErr error
	elapsed  time.Duration
}

// closedLoop keeps workers calls going for d (or until ctx ends): a
// goroutine per call in flight, calling newWorker(i)'s function again as
// soon as its call returns. Every call is timed if timeFailed, else only
// the calls that succeeded. Calls started before d ends are waited for and
// counted, as loadtest does.
func closedLoop(ctx context.Context, workers int, d time.Duration, timeFailed bool, newWorker func(i int) func() error) loopResult {
	var stop atomic.Bool
	var errs atomic.Uint64
	var errMu sync.Mutex
	var firstErr error
	hists := make([]*histogram, workers)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range workers {
		h := &histogram{}
		hists[i] = h
		call := newWorker(i)
		wg.Go(func() {
			for !stop.Load() {
				t0 := time.Now()
				err := call()
				if err == nil || timeFailed {
					h.observe(time.Since(t0))
				}
				if err == nil {
					continue
				}
				errs.Add(1)
				errMu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				errMu.Unlock()
				if ctx.Err() != nil {
					return
				}
			}
		})
	}
	t := time.NewTimer(d)
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	t.Stop()
	stop.Store(true)
	wg.Wait()
	elapsed := time.Since(start)
	total := &histogram{}
	for _, h := range hists {
		total.merge(h)
	}
	return loopResult{total: total, errors: errs.Load(), firstErr: firstErr, elapsed: elapsed}
}

// ---- latency histogram -----------------------------------------------------------

// histogram uses loadtest's percentile rule (the bucket's upper bound,
// capped at the maximum) on coarser buckets (each power of two of
// nanoseconds split into 32, so a percentile is within about 3%, where
// loadtest's are within 0.8%): one per goroutine, no atomics, and 1,024 of
// them at 16×64 stay small. gRPC's and the NATS rows' latencies are
// shown, never judged against a goal.
type histogram struct {
	counts [40 * 32]uint64
	n      uint64
	max    int64
}

func histBucket(ns int64) int {
	const sub = 5
	if ns < 1<<sub {
		return int(max(ns, 0))
	}
	p := 63 - bits.LeadingZeros64(uint64(ns))
	s := int(ns>>(p-sub)) & (1<<sub - 1)
	return min((p-sub+1)<<sub+s, 40*32-1)
}

func histUpper(i int) int64 {
	const sub = 5
	if i < 1<<sub {
		return int64(i)
	}
	p := i>>sub + sub - 1
	s := int64(i & (1<<sub - 1))
	return (int64(1)<<p | s<<(p-sub)) + (int64(1) << (p - sub)) - 1
}

func (h *histogram) observe(d time.Duration) {
	h.counts[histBucket(int64(d))]++
	h.n++
	h.max = max(h.max, int64(d))
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank && c > 0 {
			return time.Duration(min(histUpper(i), h.max))
		}
	}
	return time.Duration(h.max)
}
