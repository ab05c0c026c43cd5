package natsrpc

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"
)

// NATS micro discovery, as github.com/nats-io/nats.go/micro services answer
// it, so that `nats micro ls|info|stats|ping` list this service: every
// instance subscribes (without a queue group) to $SRV.<VERB>,
// $SRV.<VERB>.<name> and $SRV.<VERB>.<name>.<id> for PING, INFO and STATS.
// Each pattern is an endpoint whose subject is its route key; its name is
// the key with each run of characters outside [A-Za-z0-9_-] made one '_'
// (natscli rejects others), numbered when two collide, and the key is also
// in the endpoint's metadata. STATS reports the patterns' counts of the
// rpc.Server, all transports together.

const (
	pingType  = "io.nats.micro.v1.ping_response"
	infoType  = "io.nats.micro.v1.info_response"
	statsType = "io.nats.micro.v1.stats_response"
)

var serviceNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// ValidateServiceName reports whether name may name a service in NATS
// micro discovery ([WithService]): letters, digits, '-' and '_'.
func ValidateServiceName(name string) error { return checkServiceName(name) }

func checkServiceName(name string) error {
	if !serviceNameRE.MatchString(name) {
		return fmt.Errorf("natsrpc: service name %q: use letters, digits, '-' and '_' (NATS micro)", name)
	}
	return nil
}

type discovery struct {
	s       *Server
	id      string
	started time.Time
	subs    []*nats.Subscription
	ends    []endpoint

	// The replies, made once (PING, INFO: they never change) or at most
	// once per statsFresh (STATS): a flood of discovery requests, which
	// anyone on the NATS server may send, costs a publish each, not a
	// marshal of every endpoint. Guarded by mu; now is the clock.
	mu        sync.Mutex
	now       func() time.Time
	ping      []byte
	info      []byte
	statsJSON []byte
	statsAt   time.Time
}

// statsFresh is how long a STATS reply is reused: counts in a listing are
// at most this old.
const statsFresh = 100 * time.Millisecond

type endpoint struct {
	Name       string            `json:"name"`
	Subject    string            `json:"subject"`
	QueueGroup string            `json:"queue_group"`
	Metadata   map[string]string `json:"metadata"`
	route      string
}

type serviceIdentity struct {
	Name     string            `json:"name"`
	ID       string            `json:"id"`
	Version  string            `json:"version"`
	Metadata map[string]string `json:"metadata"`
	Type     string            `json:"type"`
}

type infoResponse struct {
	serviceIdentity
	Description string     `json:"description"`
	Endpoints   []endpoint `json:"endpoints"`
}

type endpointStats struct {
	Name                  string `json:"name"`
	Subject               string `json:"subject"`
	QueueGroup            string `json:"queue_group"`
	NumRequests           uint64 `json:"num_requests"`
	NumErrors             uint64 `json:"num_errors"`
	LastError             string `json:"last_error"`
	ProcessingTime        int64  `json:"processing_time"`
	AverageProcessingTime int64  `json:"average_processing_time"`
}

type statsResponse struct {
	serviceIdentity
	Started   string          `json:"started"`
	Endpoints []endpointStats `json:"endpoints"`
}

func newDiscovery(s *Server) *discovery {
	d := &discovery{s: s, id: nuid.Next(), started: time.Now().UTC(), now: time.Now}
	used := map[string]int{}
	kinds := map[string]string{}
	for _, p := range s.rpc.Patterns(false) {
		kinds[p.Pattern] = p.Kind // request, stream, event or handler
	}
	taken := map[string]bool{}
	for _, sj := range s.subjects {
		taken[endpointName(sj.name)] = true
	}
	for _, sj := range s.subjects {
		// A name given twice is numbered: the first free of name_2,
		// name_3, … (free of every other subject's plain name too).
		name := endpointName(sj.name)
		if used[name] > 0 {
			base := name
			for n := used[base] + 1; ; n++ {
				if name = base + "_" + strconv.Itoa(n); !taken[name] {
					used[base] = n
					break
				}
			}
		} else {
			used[name] = 1
		}
		taken[name] = true
		kind := kinds[sj.route]
		if kind == "" { // a reserved introspection pattern
			kind = "request"
		}
		d.ends = append(d.ends, endpoint{
			Name: name, Subject: sj.name, QueueGroup: s.opts.queue, route: sj.route,
			Metadata: map[string]string{"pattern": sj.route, "kind": kind},
		})
	}
	return d
}

// endpointName makes a route key a name natscli accepts: each run of
// other characters becomes one '_', trimmed at the ends, so that
// {"cmd":"sum","role":"math"} is cmd_sum_role_math.
func endpointName(key string) string {
	var b []byte
	gap := false
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' {
			if gap && len(b) > 0 {
				b = append(b, '_')
			}
			b = append(b, c)
			gap = false
		} else {
			gap = true
		}
	}
	if len(b) == 0 {
		return "pattern"
	}
	return string(b)
}

func (d *discovery) identity(typ string) serviceIdentity {
	svc := d.s.opts.service
	return serviceIdentity{Name: svc.name, ID: d.id, Version: svc.version, Metadata: map[string]string{}, Type: typ}
}

func (d *discovery) start() error {
	name := d.s.opts.service.name
	for _, verb := range []string{"PING", "INFO", "STATS"} {
		h := d.handler(verb)
		for _, subj := range []string{"$SRV." + verb, "$SRV." + verb + "." + name, "$SRV." + verb + "." + name + "." + d.id} {
			sub, err := d.s.nc.Subscribe(subj, h)
			if err != nil {
				d.stop()
				return fmt.Errorf("natsrpc: discovery: subscribe %s: %w", subj, err)
			}
			d.subs = append(d.subs, sub)
			// A discovery request left unanswered only leaves the instance
			// out of one listing: a flood of them is dropped past a small
			// queue rather than held (nats.go's defaults: 64 MiB each).
			if err := sub.SetPendingLimits(discoveryPendingMsgs, discoveryPendingBytes); err != nil {
				d.stop()
				return fmt.Errorf("natsrpc: discovery: subscribe %s: %w", subj, err)
			}
		}
	}
	return nil
}

// The pending limits of each of discovery's 9 subscriptions: with reply
// subjects of up to 4 KiB, at most about 1.3 MiB each.
const (
	discoveryPendingMsgs  = 64
	discoveryPendingBytes = 1 << 20
)

// stop unsubscribes discovery's subscriptions.
func (d *discovery) stop() {
	for _, sub := range d.detach() {
		sub.Unsubscribe()
	}
}

// detach forgets discovery's subscriptions and returns them, for a caller
// that unsubscribes them once it has released the lock Dropped reads them
// under (s.mu).
func (d *discovery) detach() []*nats.Subscription {
	subs := d.subs
	d.subs = nil
	return subs
}

func (d *discovery) handler(verb string) nats.MsgHandler {
	return func(m *nats.Msg) {
		if m.Reply == "" {
			return
		}
		if b := d.reply(verb); b != nil {
			m.Respond(b) // outside mu: a publish may wait on the connection
		}
	}
}

// reply returns verb's reply, made or refreshed as needed; nil if it
// could not be encoded. The bytes are shared: read only.
func (d *discovery) reply(verb string) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch verb {
	case "PING":
		if d.ping == nil {
			d.ping, _ = json.Marshal(d.identity(pingType))
		}
		return d.ping
	case "INFO":
		if d.info == nil {
			d.info, _ = json.Marshal(infoResponse{serviceIdentity: d.identity(infoType), Description: d.s.opts.service.description, Endpoints: d.ends})
		}
		return d.info
	case "STATS":
		if now := d.now(); d.statsJSON == nil || now.Sub(d.statsAt) >= statsFresh || now.Before(d.statsAt) {
			d.statsJSON, _ = json.Marshal(d.stats())
			d.statsAt = now
		}
		return d.statsJSON
	}
	return nil
}

func (d *discovery) stats() statsResponse {
	m := d.s.rpc.GetMetrics()
	byRoute := map[string]int{}
	for i, p := range m.Patterns {
		byRoute[p.Pattern] = i
	}
	out := statsResponse{serviceIdentity: d.identity(statsType), Started: d.started.Format(time.RFC3339Nano)}
	for _, e := range d.ends {
		es := endpointStats{Name: e.Name, Subject: e.Subject, QueueGroup: e.QueueGroup}
		// A {"cmd":"x"} subject shares its route's counts: report them once.
		if i, ok := byRoute[e.route]; ok && e.Subject == e.route {
			p := m.Patterns[i]
			es.NumRequests, es.NumErrors = p.Count, p.Errors
			es.ProcessingTime = int64(p.TotalLatencyMs * 1e6)
			if p.Count > 0 {
				es.AverageProcessingTime = es.ProcessingTime / int64(p.Count)
			}
		}
		out.Endpoints = append(out.Endpoints, es)
	}
	return out
}
