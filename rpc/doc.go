// Package rpc serves NestJS-style message patterns over long-lived TCP
// connections, byte-compatible with the NestJS TCP transport: a NestJS
// ClientProxy (Transport.TCP) can call Go handlers with no change on its
// side.
//
// # Quick start
//
//	func main() {
//		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
//		defer stop()
//
//		srv := rpc.NewServer(&rpc.Config{Addr: ":4061"}, nil)
//		srv.Handle("sum", rpc.Typed(func(ctx context.Context, xs []int) (int, error) {
//			total := 0
//			for _, x := range xs {
//				total += x
//			}
//			return total, nil
//		}))
//		if err := srv.Start(); err != nil { // listens, then serves in the background
//			log.Fatal(err)
//		}
//		<-ctx.Done() // until Ctrl-C
//		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
//		defer cancel()
//		srv.Shutdown(shutdown) // requests in flight finish
//	}
//
// The original API — [NewServerWrapper] and MessagePattern with a
// func(json.RawMessage) (interface{}, error) — keeps working.
//
// # Handlers
//
// A [Handler] receives a context, a [ResponseWriter] and the [Request].
// Adapters build handlers from plain functions: [Func] (the original
// signature), [ContextFunc], [Typed] (generic: data decoded into T, result U
// encoded), [Stream] (an iter.Seq2, sent as the values of a NestJS
// Observable) and [Event] (no reply, ever). [Middleware] wraps handlers for
// logging, auth or tracing; the request's pattern, metadata and remote
// address are available through [RequestFromContext].
//
// The handler's context is cancelled when the request's timeout passes,
// when the peer disconnects (a request's; an event's handler runs on), and
// when Shutdown gives up waiting.
//
// # Errors
//
// A handler that returns an [*Error] chooses what the caller sees, like
// NestJS's RpcException: {"status":"error","message":…} or any JSON value.
// Any other error, and a panic (or a runtime.Goexit), reach the caller as
// NestJS's {"status":"error","message":"Internal server error"}; the
// details go to the log (Config.ExposeErrors sends a returned error's text
// instead; a panic's value is never sent).
//
// # Patterns and routing
//
// Patterns are strings, numbers or objects, normalized exactly as NestJS
// normalizes them (package pattern): object key order does not matter,
// and an object pattern matches whether it arrives as an object or as a
// JSON string. A handler for "x" also answers {"cmd":"x"}; see [Router].
//
// # Framing
//
// Each connection's framing is chosen by its first byte (blanks skipped): a
// digit, or '+' (which JavaScript's parseInt takes before one), selects
// NestJS framing ("<length>#<json>", the length in UTF-16 units), '{'
// selects one JSON object per line, for nc and telnet. Replies use the
// connection's framing.
//
// # Concurrency
//
// Requests on one connection run concurrently and their replies go out as
// they finish, in any order. One goroutine reads each connection and runs
// handlers inline; a handler that runs longer than about half a
// millisecond is left to finish on its own while a new goroutine takes
// over reading (see handoff.go). Config.MaxInFlight bounds the handlers
// running on one connection; at the bound the server stops reading it.
// Replies are buffered and written together when there is nothing more to
// read at once.
package rpc
