package rpc

import (
	"context"
	"encoding"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/msgpattern/msgpattern/internal/structjson"
	"github.com/msgpattern/msgpattern/wire"
)

// Introspection: reserved patterns, served when Config.Introspection is on,
// by which a client asks a running server what it serves, whether it is
// healthy, and its counters — as gRPC has reflection and health, and NATS
// micro has $SRV.INFO. They are ordinary request patterns, so they work on
// every transport; NestJS peers never see them unless they call them.
const (
	// ListPattern answers the registered patterns: a [PatternInfo] each,
	// sorted by route key. With data {"schema":true} each typed handler's
	// entry carries the JSON Schema of its input and result.
	ListPattern = "msgpattern:list"
	// HealthPattern answers {"status":"serving"} or {"status":"draining"}
	// (once Shutdown has begun), as Server.Health.
	HealthPattern = "msgpattern:health"
	// StatsPattern answers the metrics snapshot (Server.GetMetrics).
	StatsPattern = "msgpattern:stats"
)

// PatternInfo describes one registered pattern, as ListPattern answers.
type PatternInfo struct {
	Pattern string `json:"pattern"` // the route key
	// Kind is "request", "stream" or "event" for handlers made with
	// Typed, Stream and Event (and HandleEvent); "handler" for others,
	// which may reply in any way.
	Kind   string          `json:"kind"`
	Input  json.RawMessage `json:"input,omitempty"`  // JSON Schema of the data (typed handlers, with schemas)
	Output json.RawMessage `json:"output,omitempty"` // JSON Schema of each reply value
}

// Health reports "serving", or "draining" once Shutdown or Close has
// begun: the definition of both HealthPattern and the CLI's /healthz.
func (s *Server) Health() string {
	if s.isClosing() {
		return "draining"
	}
	return "serving"
}

// registerIntrospection adds the reserved patterns.
func (s *Server) registerIntrospection() {
	s.router.Handle(ListPattern, Typed(func(_ context.Context, in struct {
		Schema bool `json:"schema"`
	}) ([]PatternInfo, error) {
		return s.Patterns(in.Schema), nil
	}))
	s.router.Handle(HealthPattern, Typed(func(context.Context, json.RawMessage) (map[string]string, error) {
		return map[string]string{"status": s.Health()}, nil
	}))
	s.router.Handle(StatsPattern, Typed(func(context.Context, json.RawMessage) (Metrics, error) {
		return s.GetMetrics(), nil
	}))
}

// Patterns describes the registered patterns other than the reserved
// ones, sorted by route key; with schemas, typed handlers get the JSON
// Schemas of their input and result.
func (s *Server) Patterns(schemas bool) []PatternInfo {
	routes := s.router.table.Load().routes
	out := make([]PatternInfo, 0, len(routes))
	for _, key := range slices.Sorted(maps.Keys(routes)) { // one snapshot of the table
		if s.cfg.Introspection && (key == ListPattern || key == HealthPattern || key == StatsPattern) {
			continue // the reserved patterns; an application's own "msgpattern:…" routes are listed
		}
		rt := routes[key]
		pi := PatternInfo{Pattern: key, Kind: "handler"}
		if rt.event {
			pi.Kind = kindEvent
		}
		if th, ok := rt.raw.(*typedHandler); ok {
			if !rt.event {
				pi.Kind = th.kind
			}
			if schemas {
				pi.Input = mustJSON(jsonSchema(th.in))
				if th.out != nil && !rt.event {
					pi.Output = mustJSON(jsonSchema(th.out))
				}
			}
		}
		out = append(out, pi)
	}
	return out
}

func mustJSON(v any) json.RawMessage {
	b, _ := wire.AppendJSON(nil, v) // '<', '>', '&' raw, as in every reply
	return b
}

var (
	rawMessageType    = reflect.TypeFor[json.RawMessage]()
	timeType          = reflect.TypeFor[time.Time]()
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	numberType        = reflect.TypeFor[json.Number]()
)

// jsonSchema describes t as encoding/json encodes and decodes it, in JSON
// Schema (draft 2020-12): objects with their json-tagged properties, arrays,
// maps, scalars. A type that encodes itself (json.Marshaler, RawMessage,
// any) is unconstrained ({}); a recursive type is cut where it recurs.
func jsonSchema(t reflect.Type) map[string]any {
	return schemaOf(t, map[reflect.Type]bool{})
}

func schemaOf(t reflect.Type, seen map[reflect.Type]bool) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == rawMessageType, implements(t, marshalerType):
		return map[string]any{}
	case implements(t, textMarshalerType):
		return map[string]any{"type": "string"} // netip.Addr, uuid-like IDs
	case t == numberType:
		return map[string]any{"type": "number"}
	}
	switch t.Kind() {
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 && t.Kind() == reflect.Slice {
			return map[string]any{"type": "string", "contentEncoding": "base64"}
		}
		return map[string]any{"type": "array", "items": schemaOf(t.Elem(), seen)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaOf(t.Elem(), seen)}
	case reflect.Struct:
		if seen[t] {
			return map[string]any{"type": "object"} // recursion: cut here
		}
		seen[t] = true
		defer delete(seen, t)
		props := map[string]any{}
		addFields(t, props, seen)
		return map[string]any{"type": "object", "properties": props}
	}
	return map[string]any{} // interface{}, and what JSON cannot carry
}

// addFields adds t's fields as encoding/json sees them: exported, named by
// their json tag, "-" skipped, untagged embedded structs flattened; of
// fields named alike the shallowest wins, at one depth the only tagged one,
// else none (encoding/json's rules). A `,string` scalar is a string.
func addFields(t reflect.Type, props map[string]any, seen map[reflect.Type]bool) {
	type field struct {
		depth  int
		tagged bool
		n      int // fields of this name at this depth and tagging
		schema map[string]any
	}
	best := map[string]*field{}
	// Breadth first, as encoding/json's typeFields: a struct type is walked
	// at the shallowest depth it is embedded at, once; embedded twice at
	// that depth, its fields collide with themselves and are dropped.
	var current []reflect.Type
	next := []reflect.Type{t}
	var count map[reflect.Type]int // embeddings of each type at this depth
	nextCount := map[reflect.Type]int{t: 1}
	visited := map[reflect.Type]bool{}
	for depth := 0; len(next) > 0; depth++ {
		current, next = next, current[:0]
		count, nextCount = nextCount, map[reflect.Type]int{}
		for _, st := range current {
			if visited[st] {
				continue
			}
			visited[st] = true
			for i := range st.NumField() {
				f := st.Field(i)
				tag := f.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				if !structjson.ValidTagName(name) {
					name = "" // encoding/json ignores the name, keeps the options
				}
				ft := f.Type
				for ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
					if nextCount[ft]++; nextCount[ft] == 1 {
						next = append(next, ft)
					}
					continue
				}
				// An embedded struct of an unexported type with a json name
				// is a named field to encoding/json (by value, both ways; through a
				// pointer, encoded only: decoding fails, as without a name).
				if !f.IsExported() && !(f.Anonymous && ft.Kind() == reflect.Struct) {
					continue
				}
				tagged := name != ""
				if !tagged {
					name = f.Name
				}
				b := best[name]
				switch {
				case b == nil || depth < b.depth || depth == b.depth && tagged && !b.tagged:
					b = &field{depth: depth, tagged: tagged}
					best[name] = b
				case depth > b.depth || !tagged && b.tagged:
					continue // hidden by a shallower field, or a tagged one
				}
				b.n += min(count[st], 2)
				if b.schema == nil {
					b.schema = fieldSchema(f.Type, opts, seen)
				}
			}
		}
	}
	for name, b := range best {
		if b.n == 1 { // two at the same depth and tagging: encoding/json drops both
			props[name] = b.schema
		}
	}
}

// implements reports whether t or *t implements it.
func implements(t, it reflect.Type) bool {
	return t.Implements(it) || t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(it)
}

// encodesItself reports whether encoding/json leaves t's encoding to t.
func encodesItself(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return implements(t, marshalerType) || implements(t, textMarshalerType)
}

// fieldSchema is the schema of a field of type t with json tag options
// opts: `,string` quotes a bool, number or string.
func fieldSchema(t reflect.Type, opts string, seen map[reflect.Type]bool) map[string]any {
	// A type that encodes itself ignores the option.
	if slices.Contains(strings.Split(opts, ","), "string") && !encodesItself(t) {
		// encoding/json follows one unnamed pointer (*int, not **int
		// nor a named pointer type) to find what it quotes.
		e := t
		if e.Name() == "" && e.Kind() == reflect.Pointer {
			e = e.Elem()
		}
		switch e.Kind() {
		case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
			reflect.Float32, reflect.Float64, reflect.String:
			return map[string]any{"type": "string"}
		}
	}
	return schemaOf(t, seen)
}
