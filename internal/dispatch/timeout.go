package dispatch

import (
	"time"

	"github.com/escalator-oss/escalator/internal/provider"
)

// YemotDefaultRing is the spacing of a Yemot rotation's campaigns when the
// step sets no ring time: Yemot's default callsTimeOut (the yemot package
// uses the same value).
const YemotDefaultRing = 30 * time.Second

// attemptTimeout is the per-attempt timeout of req: base, plus the time a
// provider that calls people one after another inside one Call needs. A
// Yemot rotation waits ring between its campaigns, so it lasts about
// (people-1) × ring; cutting it at base would stop the rotation half-way.
func attemptTimeout(base time.Duration, req Request) time.Duration {
	if base <= 0 {
		base = DefaultRequestTimeout
	}
	if req.Via.Provider != Yemot || req.Strategy != provider.Rotation || len(req.People) < 2 {
		return base
	}
	ring := YemotDefaultRing
	if req.Via.Yemot != nil && req.Via.Yemot.Ring > 0 {
		ring = req.Via.Yemot.Ring
	}
	return base + time.Duration(len(req.People)-1)*ring
}
