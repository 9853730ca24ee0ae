package libsql

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/hanzoai/base/store"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}, true},
		{fmt.Errorf("failed to execute SQL:\n%w", io.EOF), true},
		{errors.New("failed to execute SQL:\nerror code 400: Received an invalid baton"), true},
		{fmt.Errorf("stream is closed: %w", driver.ErrBadConn), true},
		{errors.New("error code 503: service unavailable"), true},
		{errors.New("error code STREAM_EXPIRED: The stream has expired due to inactivity"), true},
		{errors.New("failed to execute SQL:\nerror code 500: unable to open database file: /d/dbs/org03306/data"), true},
		{errors.New("failed to execute SQL:\nerror code 404: Namespace `org00070` doesn't exist"), true},
		{errors.New("SQLite error: UNIQUE constraint failed: items.key"), false},
		{errors.New("SQLite error: no such table: eof"), false},
		{errors.New("SQLite error: near \"SELEC\": syntax error"), false},
	}
	for _, tt := range tests {
		got := classify(tt.err)
		if errors.Is(got, store.ErrUnavailable) != tt.want {
			t.Errorf("classify(%v) = %v; unavailable want %v", tt.err, got, tt.want)
		}
		if tt.err != nil && !errors.Is(got, tt.err) {
			t.Errorf("classify(%v) lost the original error", tt.err)
		}
	}
}
