package natsrpc

// InboxIdle reports whether every message the client's reply inbox has
// received has been through deliver: none is queued in nats.go's pending
// queue nor in the callback (nats.go counts a message pending until its
// callback has returned).
func InboxIdle(c *Client) bool {
	n, _, err := c.sub.Pending()
	return err == nil && n == 0
}
