package local_test

import (
	"testing"

	"github.com/hanzoai/base/files"
	"github.com/hanzoai/base/files/filestest"
	"github.com/hanzoai/base/files/local"
)

func TestConformance(t *testing.T) {
	filestest.Run(t, func(t *testing.T) files.Storage {
		s, err := local.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, filestest.Options{})
}
