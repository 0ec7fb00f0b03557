package policy

import (
	"github.com/escalator-oss/escalator/internal/dispatch/ccai"
	"github.com/escalator-oss/escalator/internal/dispatch/iotcall"
	"github.com/escalator-oss/escalator/internal/dispatch/yemot"
	"github.com/escalator-oss/escalator/internal/provider"
)

// testOptions validate against every provider as a deployment with answered
// detection on would (a rotation through Yemot or CCAI needs it); the
// providers' own rules are their folders' tests.
var testOptions = Options{Providers: provider.Kinds{iotcall.Kind{}, yemot.Kind{CheckAnswered: true}, ccai.Kind{CheckAnswered: true}}}
