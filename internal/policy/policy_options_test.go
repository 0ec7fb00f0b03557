package policy

import "github.com/escalator-oss/escalator/internal/providers"

// testOptions validate against every provider, with the defaults.
var testOptions = Options{Providers: providers.Kinds()}
