package models

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// HandoffRedemption records that a single-use hand-off token was spent.
type HandoffRedemption struct {
	TokenID   string `gorm:"primaryKey"`
	ExpiresAt time.Time
}

// ErrHandoffUsed means the token was already redeemed once.
var ErrHandoffUsed = errors.New("this sign-in link was already used")

// RedeemHandoff spends a hand-off token. The primary key makes the second
// redemption fail even when two arrive at once. Spent tokens past their
// expiry are swept at the same time, so the table stays small.
func (s *Store) RedeemHandoff(ctx context.Context, tokenID string, expiresAt time.Time) error {
	return s.Tx(ctx, func(tx *Store) error {
		now := tx.db.NowFunc()
		if err := tx.conn(ctx).Where("expires_at < ?", now).Delete(&HandoffRedemption{}).Error; err != nil {
			return fmt.Errorf("sweep hand-offs: %w", err)
		}
		err := tx.conn(ctx).Create(&HandoffRedemption{TokenID: tokenID, ExpiresAt: expiresAt.UTC()}).Error
		if violatesUnique(err, "handoff_redemptions_pkey") {
			return ErrHandoffUsed
		}
		if err != nil {
			return fmt.Errorf("redeem hand-off: %w", err)
		}
		return nil
	})
}
