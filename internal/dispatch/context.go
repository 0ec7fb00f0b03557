package dispatch

import "context"

type requestKey struct{}

// RequestFrom returns the Request whose calls ctx belongs to: Dispatch puts
// it there before it asks a provider. An HTTP transport can use it to tag a
// provider request with its escalation (the bench does, to time each
// escalation's first request). ok is false outside Dispatch.
func RequestFrom(ctx context.Context) (req Request, ok bool) {
	req, ok = ctx.Value(requestKey{}).(Request)
	return req, ok
}

func withRequest(ctx context.Context, req Request) context.Context {
	return context.WithValue(ctx, requestKey{}, req)
}
