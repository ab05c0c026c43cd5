// Package natsrpc serves an [rpc.Server]'s handlers over NATS, and calls
// them over NATS, wire-compatible with NestJS's NATS transport
// (Transport.NATS): a NestJS ClientProxy calls our handlers through a NATS
// server, our [Client] calls NestJS NATS microservices, and many instances
// of one service share the load in a queue group, with no registry of their
// own.
//
// # Wire
//
// As NestJS's ServerNats and ClientNats (v11 and v12): one subscription per
// pattern, whose subject is the pattern's route key ("sum",
// {"cmd":"sum","role":"math"}); a request is a message to that subject with
// a reply subject and the packet {"pattern":…,"data":…,"id":…} as body
// (NestJS 12 adds "metadata" to it; NATS headers are readable too, with
// [rpc.Request.Header]); each reply packet ({"response":…,"isDisposed":…,
// "id":…}) is a message to the reply subject, a stream being several; an
// event is a message without reply subject and without id. Messages are
// routed by subject, as NestJS does, so a body's pattern need not match.
//
// Plain NATS peers, as NestJS takes them: a body published to a pattern's
// subject that is not a packet (JSON with neither "pattern" nor "data", or
// not an object: `nats pub evt '{"orderId":7}'`) is an event whose data is
// the whole body; and a reply to our [Client] that is not a reply packet
// (none of "err", "response", "isDisposed": a nats.go responder's
// msg.Respond) is the call's whole and last value; one that is not JSON at
// all (msg.Respond([]byte("pong"))) ends the call at once with an error
// saying so. A reply with an empty
// body ends the call at once with an *rpc.Error, as NestJS's
// EmptyResponseException does: "Empty response", or for a NATS micro
// endpoint's error reply the text of its Nats-Service-Error header, with
// its Nats-Service-Error-Code as Status.
//
// # Decisions
//
//   - Queue group: "msgpattern" by default ([WithQueueGroup]), so that
//     instances share the load; NestJS's ServerNats has none unless its
//     options.queue is set (then every instance answers every request). To
//     share load with NestJS instances, give both the same name;
//     [WithoutQueueGroup] restores NestJS's default.
//   - The {"cmd":"x"} convenience: a handler registered for "x" also
//     answers subject {"cmd":"x"}, where a NestJS client sends
//     {cmd: 'x'}, unless a handler has that pattern itself (a second
//     subscription for each such pattern).
//   - Subjects: a route key that is not a valid NATS subject for a
//     subscription — empty, with white space, an empty token ("a..b"), a
//     token that is a wildcard ("*" or ">"), longer than 1024 bytes, or in
//     the reserved "$…" and "_INBOX." spaces — makes [Serve] fail with an
//     error naming the pattern, before anything is subscribed. Patterns are
//     read when Serve is called: register handlers first. [Client] refuses
//     a call or event whose route key would make its PUB line (with reply
//     subject and size) longer than the NATS server's 4096-byte control
//     line, before it is sent, with an error wrapping nats.ErrBadSubject:
//     the NATS server would drop the connection and every call on it.
//   - Payloads over the NATS server's max_payload (1 MiB by default): a
//     reply too large is replaced by an error reply saying so (the caller
//     is not left waiting); a request too large fails in the client before
//     it is sent. So is a reply whose PUB line, with the reply subject its
//     sender chose (up to about 4 KiB), would pass the NATS server's
//     4096-byte control line: the NATS server would close the serving
//     connection.
//   - Rate limits: Config.RateLimitPerSec applies per requesting client
//     process, recognised by its reply inbox (its "_INBOX." prefix and the
//     first 12 characters of the inbox id, which NATS clients keep for a
//     process; otherwise the reply subject without its last token); all
//     events published without a reply subject share one bucket, and an
//     event that carries one counts against its sender, as a request does.
//     GlobalRateLimitPerSec applies as on TCP.
//     The reply subject is the sender's to choose, so a hostile client
//     can pass the per-client limit with a new inbox per request (at most
//     4096 are remembered; past that all are forgotten at once): against
//     hostile clients, the server-wide limit is the one that holds.
//   - Concurrency: each message runs in a goroutine of its own, at most
//     Config.MaxHandlers at once ([WithMaxConcurrent]): a cap of this
//     Server's own, besides TCP's (a negative MaxHandlers means the default
//     4096 here); at the cap the subscription's callback waits, and nats.go
//     queues what arrives for the subscription, up to its pending limits: all
//     subscriptions together a quarter of MemoryBudget, half for data and
//     headers (each at least the NATS server's max_payload, at most nats.go's
//     default 64 MiB) and half for subjects (a message counted 4.5 KiB, as a
//     sender may choose a reply subject of up to 4 KiB). Past
//     them nats.go drops the message as a slow consumer ([Server.Dropped],
//     logged at most once a second; the connection's error handler gets
//     nats.ErrSlowConsumer); in a queue group NATS does not redeliver it.
//   - Memory: a message over 4 KiB (payload and headers) is held from the
//     server's MemoryBudget until its handler returns, as TCP frames are;
//     when the budget is used up the subscription's callback waits for room,
//     up to Config.FrameTimeout, then drops the message (counted
//     over_budget).
//   - Timeouts (answered at the deadline), retries, middleware and metrics
//     are the rpc.Server's, as on TCP; metrics count NATS messages under the
//     transport "nats".
//   - Shutdown: the rpc.Server's Shutdown drains the subscriptions (new
//     requests go to the other instances of the queue group), serves the
//     messages already received, then returns; [Server.Shutdown] does the
//     same for this transport alone. During a NATS outage nothing can be
//     drained: the messages already received are served, and the
//     subscriptions dropped once they are handed over.
//   - Discovery: the service answers the NATS micro protocol ($SRV.PING,
//     $SRV.INFO, $SRV.STATS), so `nats micro ls` lists it with its patterns
//     and their counts ([WithService]). Anyone on the NATS server may ask:
//     the PING and INFO replies are made once, and a STATS reply is reused
//     for 100 ms (its counts are at most that old), so a flood of requests
//     costs a publish each.
package natsrpc
