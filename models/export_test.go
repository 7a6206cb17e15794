package models

import "context"

// SaveTenantForTest saves a whole tenant struct, as careless code might.
func (s *Store) SaveTenantForTest(ctx context.Context, t *Tenant) error {
	return s.conn(ctx).Model(&Tenant{ID: t.ID}).Where("id = ?", t.ID).Updates(t).Error
}

// ExecForTest runs raw SQL, to prove constraints hold below the Go layer.
func (s *Store) ExecForTest(ctx context.Context, sql string, args ...any) error {
	return s.conn(ctx).Exec(sql, args...).Error
}
