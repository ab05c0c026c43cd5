package natsrpc

import (
	"crypto/tls"
	"fmt"

	"github.com/nats-io/nats.go"
)

// DefaultQueueGroup is the queue group of the subscriptions unless
// [WithQueueGroup] or [WithoutQueueGroup] says otherwise.
const DefaultQueueGroup = "msgpattern"

// Option configures a [Server] (and, for the connection options, a
// [Client] made with [Dial]).
type Option func(*options)

type options struct {
	queue       string
	maxParallel int
	service     serviceInfo
	natsOpts    []nats.Option
	err         error
}

type serviceInfo struct {
	name, version, description string
}

func defaultOptions() options {
	return options{
		queue:   DefaultQueueGroup,
		service: serviceInfo{name: "msgpattern", version: "1.0.0", description: "msgpattern message patterns"},
	}
}

// WithQueueGroup sets the queue group every subscription joins: instances
// in one group share the requests, each served by one of them.
func WithQueueGroup(name string) Option { return func(o *options) { o.queue = name } }

// WithoutQueueGroup subscribes without a queue group, as NestJS's
// ServerNats does by default: every instance gets every message.
func WithoutQueueGroup() Option { return func(o *options) { o.queue = "" } }

// WithMaxConcurrent bounds the messages this Server serves at once, apart
// from the rpc.Server's other transports (n ≤ 0: Config.MaxHandlers, or
// rpc.DefaultMaxHandlers if that is negative).
func WithMaxConcurrent(n int) Option { return func(o *options) { o.maxParallel = n } }

// WithService names the service in NATS micro discovery ($SRV.INFO …):
// name (letters, digits, '-' and '_'; default "msgpattern"), a SemVer
// version (default "1.0.0") and a description.
func WithService(name, version, description string) Option {
	return func(o *options) {
		o.service = serviceInfo{name: name, version: version, description: description}
	}
}

// WithNATSOptions passes options to nats.Connect, for [Connect] and [Dial]
// (for example nats.Name, nats.MaxReconnects).
func WithNATSOptions(opts ...nats.Option) Option {
	return func(o *options) { o.natsOpts = append(o.natsOpts, opts...) }
}

// Credentials authenticates with a NATS credentials file (a user JWT and
// its nkey seed), as `nats --creds` does.
func Credentials(file string) Option {
	return WithNATSOptions(nats.UserCredentials(file))
}

// NKeySeedFile authenticates with the nkey whose seed is in file.
func NKeySeedFile(file string) Option {
	return func(o *options) {
		opt, err := nats.NkeyOptionFromSeed(file)
		if err != nil {
			o.err = fmt.Errorf("natsrpc: nkey seed %s: %w", file, err)
			return
		}
		o.natsOpts = append(o.natsOpts, opt)
	}
}

// TLS connects with TLS configured by cfg (RootCAs for the server's
// certificate, Certificates for mutual TLS).
func TLS(cfg *tls.Config) Option { return WithNATSOptions(nats.Secure(cfg)) }

func (o *options) connect(url string) (*nats.Conn, error) {
	if o.err != nil {
		return nil, o.err
	}
	opts := append([]nats.Option{nats.Name("msgpattern"), nats.MaxReconnects(-1)}, o.natsOpts...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("natsrpc: connect to %s: %w", url, err)
	}
	return nc, nil
}
