package rp

// WaitKeyFetches waits until no fetch of c's key set is in progress, so that
// a test can observe the outcome of a background refresh (tests only).
func WaitKeyFetches(c *Client) {
	if p := c.d.current(); p != nil {
		p.keys.fetches.Wait()
	}
}

// WaitDiscovery waits until c's lazy discovery has no goroutine left: the
// background loop has ended (discovered, or its context is done) and no
// attempt is in progress (tests only).
func WaitDiscovery(c *Client) { c.d.running.Wait() }
