package handler

import (
	"fmt"
	"testing"

	"github.com/hanzoai/base/records"
)

func TestSchemaCacheBounded(t *testing.T) {
	c := &schemaCache{max: 3}
	schemas := map[string]*records.Schema{}
	for i := range 5 {
		org := fmt.Sprintf("org%d", i)
		schemas[org] = records.NewSchema(int64(i), nil)
		c.Store(org, schemas[org])
		if i == 2 {
			c.Load("org0") // org0 is now more recent than org1
		}
	}
	if c.Len() != 3 {
		t.Fatalf("len = %d, want 3", c.Len())
	}
	for org, want := range map[string]bool{"org0": true, "org1": false, "org2": false, "org3": true, "org4": true} {
		s, ok := c.Load(org)
		if ok != want || (ok && s != schemas[org]) {
			t.Errorf("Load(%s) = %v, %v; want cached %v", org, s, ok, want)
		}
	}
	s2 := records.NewSchema(9, nil)
	c.Store("org4", s2)
	if s, _ := c.Load("org4"); s != s2 || c.Len() != 3 {
		t.Errorf("replacing org4: got %v, len %d", s, c.Len())
	}
}
