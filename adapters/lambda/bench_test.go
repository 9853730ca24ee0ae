package lambdaadapter_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"

	lambdaadapter "github.com/hanzoai/base/adapters/lambda"
	"github.com/hanzoai/base/handler"
	"github.com/hanzoai/base/store/sqlite"
)

func benchHandler(b *testing.B) http.Handler {
	st, err := sqlite.Open(sqlite.Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	h, err := handler.New(handler.Config{Store: st})
	if err != nil {
		b.Fatal(err)
	}
	return h
}

// BenchmarkOverhead compares GET /v1/health through the adapter (event
// JSON in, response JSON out) with the very same http.Request served
// directly; the difference is the adapter's per-invocation overhead.
func BenchmarkOverhead(b *testing.B) {
	h := benchHandler(b)
	for _, name := range []string{"httpapi-v2-get.json", "rest-v1-get.json", "alb-multivalue.json"} {
		payload := healthEvent(b, name)
		ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "id"})
		var seen *http.Request
		capture, err := lambdaadapter.New(lambdaadapter.Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = r })})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := capture.Invoke(ctx, payload); err != nil {
			b.Fatal(err)
		}
		b.Run(name+"/direct", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := seen.Clone(ctx)
				r.Body = http.NoBody
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != 200 {
					b.Fatal(w.Code)
				}
			}
		})
		b.Run(name+"/adapter", func(b *testing.B) {
			a, err := lambdaadapter.New(lambdaadapter.Config{Handler: h})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := a.Invoke(ctx, payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("adapter-only/noop-handler", func(b *testing.B) {
		a, err := lambdaadapter.New(lambdaadapter.Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"code":200}`))
		})})
		if err != nil {
			b.Fatal(err)
		}
		payload := healthEvent(b, "httpapi-v2-get.json")
		b.ReportAllocs()
		for b.Loop() {
			if _, err := a.Invoke(context.Background(), payload); err != nil {
				b.Fatal(err)
			}
		}
	})
}
