package models_test

import (
	"testing"

	"canopy/models"
)

// TestSSOOwner: the connection in force comes from the nearest tenant that
// does not inherit, never from the platform, and a company directly below
// the platform owns its own whatever its flag says.
func TestSSOOwner(t *testing.T) {
	parent := func(id int64) *int64 { return &id }
	platform := models.Tenant{ID: 1, Name: "Platform"}
	platformInherits := platform
	platformInherits.SSOInherit = true
	top := func(inherit bool) models.Tenant {
		return models.Tenant{ID: 2, Name: "Acme Corp", ParentID: parent(1), SSOInherit: inherit}
	}
	eu := func(inherit bool) models.Tenant {
		return models.Tenant{ID: 3, Name: "Acme Europe", ParentID: parent(2), SSOInherit: inherit}
	}
	lab := func(inherit bool) models.Tenant {
		return models.Tenant{ID: 4, Name: "Acme Europe Lab", ParentID: parent(3), SSOInherit: inherit}
	}
	cases := []struct {
		name    string
		lineage models.Lineage
		want    string // "" for none
	}{
		{"the platform owns its own", models.Lineage{platform}, "Platform"},
		{"the platform owns its own, even marked inheriting", models.Lineage{platformInherits}, "Platform"},
		{"a company below the platform that inherits owns its own", models.Lineage{top(true), platform}, "Acme Corp"},
		{"a company below the platform that does not inherit", models.Lineage{top(false), platform}, "Acme Corp"},
		{"a child that inherits follows its parent", models.Lineage{eu(true), top(true), platform}, "Acme Corp"},
		{"a child with its own", models.Lineage{eu(false), top(true), platform}, "Acme Europe"},
		{"a grandchild inherits through its parent", models.Lineage{lab(true), eu(true), top(false), platform}, "Acme Corp"},
		{"a grandchild stops at the nearest own", models.Lineage{lab(true), eu(false), top(false), platform}, "Acme Europe"},
		{"a grandchild with its own", models.Lineage{lab(false), eu(true), top(true), platform}, "Acme Europe Lab"},
		{"inheriting all the way up stops below the platform", models.Lineage{lab(true), eu(true), top(true), platformInherits}, "Acme Corp"},
		{"a lineage that never reaches the platform", models.Lineage{eu(true)}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := c.lineage.SSOOwner()
			switch {
			case c.want == "" && got != nil:
				t.Fatalf("owner %s, want none", got.Name)
			case c.want != "" && got == nil:
				t.Fatalf("no owner, want %s", c.want)
			case got != nil && got.Name != c.want:
				t.Fatalf("owner %s, want %s", got.Name, c.want)
			}
		})
	}
}
