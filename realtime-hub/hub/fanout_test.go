package hub_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/hanzoai/base/realtime-hub/bus"
)

// BenchmarkFanout measures one committed create delivered over real SSE
// streams to every subscriber of posts/* (guests and two users, so several
// classes), gated by the list rule. One op is one event; deliveries/s is
// reported. Run with -benchtime=200x.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) {
			d := newDeployment(b)
			mb := bus.NewMemory(bus.MemoryConfig{})
			b.Cleanup(func() { mb.Close() })
			in := newInstance(b, d, mb)
			tok := seed(b, d, in.srv.URL)
			who := []string{"", tok.alice, tok.bob}
			streams := make([]*sseClient, n)
			for i := range streams {
				streams[i] = openSSE(b, in.srv.URL, "")
				streams[i].subscribe(b, in.srv.URL, who[i%len(who)], 204, "posts/*")
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				mustCall(b, 200, in.srv.URL, "POST", "/v1/collections/posts/records", tok.alice, map[string]any{"title": "t", "published": true})
				for _, s := range streams {
					s.next(b, 10*time.Second)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}
