package oidctest

// Pending reports how many codes and tokens p remembers.
func Pending(p *Provider) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.codes) + len(p.tokens)
}
