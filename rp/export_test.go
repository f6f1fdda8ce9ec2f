package rp

// WaitKeyFetches waits until no fetch of c's key set is in progress, so that
// a test can observe the outcome of a background refresh (tests only).
func WaitKeyFetches(c *Client) { c.keys.fetches.Wait() }
