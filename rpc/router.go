package rpc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/msgpattern/msgpattern/pattern"
)

// Router maps patterns to handlers. It is the dispatch core shared by every
// transport: it knows nothing of sockets. Registration is safe at any time,
// concurrently with serving; lookups take no lock.
//
// # Patterns
//
// A pattern is a string, a number or an object (a map, a struct, or a
// json.RawMessage holding a JSON object), normalized to a route key exactly
// as NestJS does (see package pattern): {"role":"math","cmd":"sum"} and
// {"cmd":"sum","role":"math"} are the same route, and so are 42 and "42".
//
// # The cmd convenience
//
// A handler registered under the string "x" also answers requests whose
// pattern is {"cmd":"x"}, the usual NestJS convention, unless a handler is
// registered for {"cmd":"x"} itself. So a Go service can register plain
// names and still serve NestJS clients that send {cmd: "x"}.
//
// # Conflicts
//
// Registering a route twice is a programming error: Handle panics, naming
// both registration sites, as net/http.ServeMux does.
type Router struct {
	mu         sync.Mutex // serializes writers
	table      atomic.Pointer[routeTable]
	middleware []Middleware

	// maxRaw is the longest raw pattern that may route to a registered
	// handler: the largest patternLimit of the routes. A longer pattern is
	// answered as matching no handler without being normalized. It only
	// grows, and is raised before a route becomes visible.
	maxRaw atomic.Int64
}

// patternLimit bounds the length of a raw pattern (the JSON value of a
// message's "pattern" member) that routes to key, however a client encodes
// it.
//
// Normalizing a pattern costs time that grows with its length (object keys
// are sorted by collation) and is spent on the connection's reader before
// any handler, limit or deadline, so a pattern that cannot match is refused
// unread. The raw JSON can be longer than the route key it normalizes to,
// through:
//
//   - escapes: \uXXXX writes a byte of the key in at most 6 bytes (an ASCII
//     character; one escape stands for 2 or 3 bytes of any other character,
//     two for the 4 of a supplementary one);
//   - a pattern sent as a JSON string holding its JSON text, which escapes
//     that text once more;
//   - whitespace between tokens, and numbers not in their shortest form;
//   - the {"cmd":"x"} fallback, which adds 10 bytes to the key "x".
//
// Encoders write at most 7 bytes per byte of key (encoding/json writes '<'
// as \u003c, and as \\u003c in a pattern sent as a string of JSON). 16 bytes
// per byte plus 1 KiB leaves room for every character escaped by hand and
// for indentation, while a pattern too long for every route, the attack, is
// refused at the cost of one comparison.
//
// A key holding [TOO_MANY_KEYS] or [MAX_DEPTH_REACHED] matches objects of
// any size, since the route drops what they hold; but normalizing holds a
// parse tree of about 30 bytes per byte of pattern, on the reader and
// charged to no budget, so those routes take patterns of up to
// collapsedPatternMax bytes more, not of any size (NestJS takes any).
func patternLimit(key string) int64 {
	limit := 16*int64(len(key)+len(`{"cmd":""}`)) + 1<<10
	if strings.Contains(key, "[TOO_MANY_KEYS]") || strings.Contains(key, "[MAX_DEPTH_REACHED]") {
		limit += collapsedPatternMax
	}
	return limit
}

// collapsedPatternMax is what a route holding [TOO_MANY_KEYS] or
// [MAX_DEPTH_REACHED] adds to its pattern bound: room for a pattern's
// dropped members far beyond any pattern a program sends (an identifier),
// while normalizing one holds about 2 MiB at most.
const collapsedPatternMax = 64 << 10

// mayRoute reports whether a raw pattern n bytes long may match a
// registered handler; when it is false the pattern matches none.
func (r *Router) mayRoute(n int) bool {
	return int64(n) <= r.maxRaw.Load()
}

type routeTable struct {
	routes map[string]*route
	// nest10 maps the route keys a NestJS 10 client writes for object
	// patterns whose strings need escaping to their routes: its
	// transformPatternToRoute (before 11.1.18) escapes nothing, and its
	// emit sends that key as the pattern, which is then not JSON and
	// arrives as is. Nil when no route needs it.
	nest10 map[string]*route
}

// withNest10Keys fills t.nest10 from t.routes. A key that two routes
// would share is left out: neither is chosen by chance.
func (t *routeTable) withNest10Keys() *routeTable {
	t.nest10 = nil
	shared := map[string]bool{}
	for k, rt := range t.routes {
		u, ok := nest10Key(k)
		if !ok || shared[u] || readsAsRoute(u) {
			// Unescaped text that is JSON is another pattern as NestJS
			// 11/12 (and Route) read it, and text that is JSON once its
			// raw control characters are escaped may be another
			// pattern's route key (route keys write them raw): a request
			// to that pattern must not reach this route.
			continue
		}
		if _, taken := t.routes[u]; taken {
			continue
		}
		if t.nest10 == nil {
			t.nest10 = map[string]*route{}
		}
		if _, dup := t.nest10[u]; dup {
			delete(t.nest10, u)
			shared[u] = true
			continue
		}
		t.nest10[u] = rt
	}
	return t
}

// readsAsRoute reports whether u is JSON, or may be the route key of a
// pattern: JSON once the control characters a route key writes raw in its
// strings are escaped and the markers it writes unquoted (Infinity,
// [TOO_MANY_KEYS], [MAX_DEPTH_REACHED]) are replaced by a number.
func readsAsRoute(u string) bool {
	if json.Valid([]byte(u)) {
		return true
	}
	u = routeMarkers.Replace(u)
	b := make([]byte, 0, len(u)+16)
	for i := 0; i < len(u); i++ {
		if c := u[i]; c < 0x20 {
			b = append(b, '\\', 'u', '0', '0', "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
		} else {
			b = append(b, c)
		}
	}
	return json.Valid(b)
}

var routeMarkers = strings.NewReplacer("Infinity", "0", "[TOO_MANY_KEYS]", "0", "[MAX_DEPTH_REACHED]", "0")

// nest10Key is the key NestJS 10 writes for an object pattern whose route
// key is key: each string in it without its escapes. A route key escapes
// only '"' and '\' (control characters, lone surrogates and all else are
// written raw, see package pattern), so only those two are unescaped and
// every other byte is kept as it is. ok is false when that is key itself
// (nothing escaped) or key is not an object's.
func nest10Key(key string) (string, bool) {
	if !strings.HasPrefix(key, "{") || !strings.Contains(key, `\`) {
		return "", false
	}
	b := make([]byte, 0, len(key))
	in := false // inside a string
	for i := 0; i < len(key); i++ {
		switch c := key[i]; {
		case c == '"':
			in = !in
		case c == '\\':
			if !in || i+1 == len(key) || key[i+1] != '"' && key[i+1] != '\\' {
				return "", false // not a route key (a string route's text)
			}
			i++
		}
		b = append(b, key[i])
	}
	if in {
		return "", false
	}
	return string(b), true
}

// route is one registered handler.
type route struct {
	key     string
	raw     Handler // as registered
	handler Handler // with the router's middleware around it
	event   bool
	site    string
	stats   *patternStats // shared by the copies Use makes
	opts    routeOptions
}

// A HandleOption adjusts how one pattern is served.
type HandleOption func(*routeOptions)

type routeOptions struct {
	timeout    time.Duration
	timeoutSet bool
	noRetry    bool
	maxData    int
}

// WithTimeout overrides Config.Timeout for this pattern; zero or a
// negative duration means no deadline. It is a server HandleOption (for
// Handle); on the client side a call's deadline is its context's, and
// WithDialTimeout bounds dialling.
func WithTimeout(d time.Duration) HandleOption {
	return func(o *routeOptions) { o.timeout, o.timeoutSet = max(d, 0), true }
}

// WithoutRetry turns retries off for this pattern: use it for handlers that
// are not idempotent, which must not run twice for one request.
func WithoutRetry() HandleOption {
	return func(o *routeOptions) { o.noRetry = true }
}

// WithMaxDataBytes refuses, before its handler runs, a message to this
// pattern whose data is longer than n bytes of JSON: a request gets the
// error reply "Data too large (… bytes; at most …)", its data's length and
// n; an event is dropped (both counted in ErrorCounts.DataTooLarge). A
// handler's decoded input is not charged to Config.MemoryBudget and may
// hold many times its JSON (see rpc.Typed): this bounds it for a pattern
// tighter than Config.MaxFrameSize bounds every frame. Zero or negative:
// no bound.
func WithMaxDataBytes(n int) HandleOption {
	return func(o *routeOptions) { o.maxData = max(n, 0) }
}

// NewRouter returns an empty router.
func NewRouter() *Router {
	r := &Router{}
	r.table.Store(&routeTable{routes: map[string]*route{}})
	r.maxRaw.Store(patternLimit(""))
	return r
}

// Handle registers h for requests (and events) matching pattern. It panics
// if pattern is invalid or already registered.
func (r *Router) Handle(pattern any, h Handler, opts ...HandleOption) {
	r.register(pattern, h, false, opts)
}

// HandleEvent registers h for events matching pattern: messages without an
// id, which never get a reply. It panics if pattern is invalid or already
// registered.
func (r *Router) HandleEvent(pattern any, h Handler, opts ...HandleOption) {
	r.register(pattern, h, true, opts)
}

// Use appends middleware around every handler, registered before or after
// the call. The first middleware given is the outermost.
func (r *Router) Use(mw ...Middleware) {
	for _, m := range mw {
		if m == nil {
			panic("rpc: nil middleware")
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// The router changes only once every handler is wrapped: a middleware
	// that panics, or returns nil, leaves it as it was.
	chain := append(r.middleware[:len(r.middleware):len(r.middleware)], mw...)
	old := r.table.Load()
	next := &routeTable{routes: make(map[string]*route, len(old.routes))}
	for k, rt := range old.routes {
		c := *rt
		c.handler = wrap(chain, rt.raw)
		next.routes[k] = &c
	}
	r.middleware = chain
	r.table.Store(next.withNest10Keys())
}

// wrap applies the middleware chain to h, the first outermost.
func wrap(chain []Middleware, h Handler) Handler {
	for i := len(chain) - 1; i >= 0; i-- {
		if h = chain[i](h); h == nil {
			panic("rpc: middleware returned a nil handler")
		}
	}
	return h
}

func (r *Router) register(p any, h Handler, event bool, opts []HandleOption) {
	if hf, ok := h.(HandlerFunc); h == nil || ok && hf == nil {
		panic("rpc: nil handler")
	}
	for _, o := range opts {
		if o == nil {
			panic("rpc: nil HandleOption")
		}
	}
	key, err := pattern.Of(p)
	if err != nil {
		panic(fmt.Sprintf("rpc: invalid pattern %#v: %v", p, err))
	}
	site := callerSite()
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.table.Load()
	if prev, ok := old.routes[key]; ok {
		panic(fmt.Sprintf("rpc: pattern %s registered at %s conflicts with the registration at %s", key, site, prev.site))
	}
	next := &routeTable{routes: make(map[string]*route, len(old.routes)+1)}
	for k, v := range old.routes {
		next.routes[k] = v
	}
	rt := &route{key: key, raw: h, handler: wrap(r.middleware, h), event: event, site: site, stats: new(patternStats)}
	for _, o := range opts {
		o(&rt.opts)
	}
	next.routes[key] = rt
	if limit := patternLimit(key); limit > r.maxRaw.Load() {
		r.maxRaw.Store(limit) // before the route is visible: no lookup refuses it
	}
	r.table.Store(next.withNest10Keys())
}

// rpcPackage prefixes the names of this package's functions, whatever the
// module is called (a fork, a vendored copy).
var rpcPackage = reflect.TypeFor[Router]().PkgPath() + "."

// callerSite names the user code that registered a handler.
func callerSite() string {
	for skip := 2; skip < 10; skip++ {
		pc, file, line, ok := runtime.Caller(skip)
		if !ok {
			break
		}
		fn := runtime.FuncForPC(pc)
		if fn != nil && strings.HasPrefix(fn.Name(), rpcPackage) {
			continue
		}
		return fmt.Sprintf("%s:%d", file, line)
	}
	return "unknown"
}

// cmdPrefix and cmdSuffix frame the route of a {"cmd":"x"} pattern.
var cmdPrefix, cmdSuffix = []byte(`{"cmd":"`), []byte(`"}`)

// lookup finds the handler for a route key. It does not allocate.
func (r *Router) lookup(key []byte) *route {
	table := r.table.Load()
	routes := table.routes
	if rt, ok := routes[string(key)]; ok {
		return rt
	}
	if table.nest10 != nil {
		if rt, ok := table.nest10[string(key)]; ok {
			return rt
		}
	}
	// {"cmd":"x"} falls back to "x".
	if bytes.HasPrefix(key, cmdPrefix) && bytes.HasSuffix(key, cmdSuffix) && len(key) > len(cmdPrefix)+len(cmdSuffix) {
		name := key[len(cmdPrefix) : len(key)-len(cmdSuffix)]
		if bytes.IndexByte(name, '"') < 0 && bytes.IndexByte(name, '\\') < 0 {
			if rt, ok := routes[string(name)]; ok {
				return rt
			}
		} else if name, ok := unescapeCmd(name); ok {
			// A route key escapes only '"' and '\' in strings (see
			// nest10Key): the name is x once they are unescaped.
			if rt, ok := routes[string(name)]; ok {
				return rt
			}
		}
	}
	return nil
}

// unescapeCmd returns the string x of a route key {"cmd":"x"} from the
// text between its quotes, whose '"' and '\' are escaped; ok is false when
// the text is not one string (a '"' unescaped: the key has more members).
func unescapeCmd(name []byte) ([]byte, bool) {
	out := make([]byte, 0, len(name))
	for i := 0; i < len(name); i++ {
		switch c := name[i]; c {
		case '"':
			return nil, false
		case '\\':
			if i+1 == len(name) || name[i+1] != '"' && name[i+1] != '\\' {
				return nil, false
			}
			i++
		}
		out = append(out, name[i])
	}
	return out, true
}

// Patterns returns the registered route keys, for introspection.
func (r *Router) Patterns() []string {
	routes := r.table.Load().routes
	out := make([]string, 0, len(routes))
	for k := range routes {
		out = append(out, k)
	}
	return out
}

// RouteInfo describes one registered route, for transports and
// introspection.
type RouteInfo struct {
	Key   string // the route key: the NATS subject, the metrics' pattern
	Event bool   // registered with HandleEvent
}

// Routes returns the registered routes, sorted by key.
func (r *Router) Routes() []RouteInfo {
	routes := r.table.Load().routes
	out := make([]RouteInfo, 0, len(routes))
	for k, rt := range routes {
		out = append(out, RouteInfo{Key: k, Event: rt.event})
	}
	slices.SortFunc(out, func(a, b RouteInfo) int { return strings.Compare(a.Key, b.Key) })
	return out
}
