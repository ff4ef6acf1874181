package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/partli/partli/internal/config"
)

// ErrPrivateAddress is a delivery refused because its address is loopback,
// private, link-local or otherwise not on the public internet.
var ErrPrivateAddress = errors.New("webhook: refusing a loopback, private or link-local address")

// guard decides which addresses deliveries may reach. In production,
// endpoints must be on the public internet: a merchant's URL must not be a
// way into Partli's own network (cloud metadata, the database, admin ports).
type guard struct {
	allowPrivate bool
	lookup       func(ctx context.Context, host string) ([]netip.Addr, error)
}

// newGuard refuses non-public addresses unless cfg is development mode or
// cfg.WebhookAllowPrivate; a Config without Env counts as production.
func newGuard(cfg config.Config) guard {
	return guard{
		allowPrivate: cfg.Env == "development" || cfg.WebhookAllowPrivate,
		lookup: func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		},
	}
}

// Address blocks that are not on the public internet beyond what
// netip.Addr's predicates cover.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"; 0.0.0.0 reaches the local host
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT, also cloud-internal
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and broadcast
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: may embed a private IPv4 address
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("2002::/16"),       // 6to4: may embed a private IPv4 address
	netip.MustParsePrefix("fec0::/10"),       // deprecated site-local
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("2001::/32"),       // Teredo
	netip.MustParsePrefix("::ffff:0:0:0/96"), // IPv4-translated
}

// blocked reports whether a is loopback, private, link-local, multicast,
// unspecified or another address that is not on the public internet.
func blocked(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return true
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// control is the dialer's last word: it sees the address actually being
// connected to, after DNS resolution, so a name that resolves to a public
// address when the endpoint is created and to a private one later (DNS
// rebinding) is still refused.
func (g guard) control(network, address string, _ syscall.RawConn) error {
	if g.allowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrPrivateAddress, address)
	}
	if blocked(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrPrivateAddress, ap.Addr())
	}
	return nil
}

// checkHost refuses, at creation, a host that is or resolves to a
// non-public address. A name that does not resolve now is accepted: the
// dial-time check still applies to every delivery.
func (g guard) checkHost(ctx context.Context, host string) error {
	if g.allowPrivate {
		return nil
	}
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		if blocked(a) {
			return ErrPrivateAddress
		}
		return nil
	}
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") || strings.HasSuffix(h, ".local") ||
		strings.HasSuffix(h, ".internal") || !strings.Contains(h, ".") {
		return ErrPrivateAddress
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	addrs, err := g.lookup(ctx, h)
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if blocked(a) {
			return ErrPrivateAddress
		}
	}
	return nil
}
