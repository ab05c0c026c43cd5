package structjson

import (
	"reflect"
	"sync"
)

// typeCache holds the plans of one direction (decoding or encoding) by Go
// type, built once: lock-free reads, one builder at a time.
type typeCache[P any] struct {
	mu    sync.Mutex
	plans sync.Map // reflect.Type → *P, nil when the type is not covered
}

// get returns the plan of t, building it (with build) the first time.
func (tc *typeCache[P]) get(t reflect.Type, build func(reflect.Type) *P) *P {
	if p, ok := tc.plans.Load(t); ok {
		return p.(*P)
	}
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if p, ok := tc.plans.Load(t); ok {
		return p.(*P)
	}
	p := build(t)
	tc.plans.Store(t, p)
	return p
}

// building holds the plans of one top-level type under construction, so
// that a recursive type refers to its own plan while it is being filled.
type building[P any] map[reflect.Type]*P

// compile returns t's plan, filled by fill; nil when fill says t is not
// covered (and then so is every type that contains it).
func (b building[P]) compile(t reflect.Type, fill func(*P, reflect.Type) bool) *P {
	if p, ok := b[t]; ok {
		return p
	}
	p := new(P)
	b[t] = p
	if !fill(p, t) {
		b[t] = nil
		return nil
	}
	return p
}
