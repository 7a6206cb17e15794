package webhookworker_test

import (
	"testing"

	"canopy/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }
