package models

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm/clause"
)

// HandoffRedemption records that a single-use hand-off token was spent.
type HandoffRedemption struct {
	TokenID   string `gorm:"primaryKey"`
	ExpiresAt time.Time
}

// RedeemHandoff spends a hand-off token. The primary key makes the second
// redemption fail even when two arrive at once; DO NOTHING makes that an
// answer rather than an error, which would spoil the request's transaction.
func (s *Store) RedeemHandoff(ctx context.Context, tokenID string, expiresAt time.Time) error {
	res := s.conn(ctx).Clauses(clause.OnConflict{DoNothing: true}).
		Create(&HandoffRedemption{TokenID: tokenID, ExpiresAt: expiresAt.UTC()})
	if res.Error != nil {
		return fmt.Errorf("redeem hand-off: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrHandoffUsed
	}
	return nil
}

// SweepHandoffs forgets spent tokens past their expiry, which could not be
// redeemed again anyway, so the table stays small. Redemptions are
// insert-only until they expire (migrations/*/00017_database_wall.sql); on
// Postgres the application may not delete them at all, and a function of
// the owner's deletes the expired ones and nothing else.
func (s *Store) SweepHandoffs(ctx context.Context) (int64, error) {
	if s.Dialect() == Postgres {
		var swept int64
		if err := s.conn(ctx).Raw("SELECT canopy_sweep_handoffs()").Scan(&swept).Error; err != nil {
			return 0, fmt.Errorf("sweep hand-offs: %w", err)
		}
		return swept, nil
	}
	res := s.conn(ctx).Where("expires_at < ?", s.db.NowFunc()).Delete(&HandoffRedemption{})
	if res.Error != nil {
		return 0, fmt.Errorf("sweep hand-offs: %w", res.Error)
	}
	return res.RowsAffected, nil
}
