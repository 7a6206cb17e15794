package models

import (
	"context"
	"fmt"
)

// PendingSSODomainPageSize is how many domains a page of platform staff's
// SSO domains list shows.
const PendingSSODomainPageSize = 25

// ssoDomainInTree loads a domain claimed by rootID itself or by a tenant
// anywhere below it, for those who decide on the tree's domains (platform
// staff, from the only id a list row carries). Where it is, inSubtree
// decides; the domain is then read through scoped like any tenant's row.
// A domain of another tree, or an unknown id, is ErrNotFound.
func (s *Store) ssoDomainInTree(ctx context.Context, rootID, domainID int64, lock bool) (*SSODomain, error) {
	if rootID <= 0 {
		return nil, ErrNoTenant
	}
	// The one column read before the tree is known to admit the row: which
	// tenant claims it. On Postgres row-level security already hides the
	// domains of tenants outside the request's scope.
	var owners []int64
	if err := s.conn(ctx).Table("sso_domains").Where("id = ?", domainID).Limit(1).Pluck("tenant_id", &owners).Error; err != nil {
		return nil, fmt.Errorf("find sso domain: %w", err)
	}
	if len(owners) == 0 {
		return nil, fmt.Errorf("find sso domain: %w", ErrNotFound)
	}
	if owners[0] != rootID {
		if _, err := s.inSubtree(ctx, rootID, owners[0]); err != nil {
			return nil, err
		}
	}
	q := s.scoped(ctx, owners[0]).Where("id = ?", domainID)
	if lock {
		q = s.forUpdate(q)
	}
	var d SSODomain
	return &d, notFound(q.Take(&d).Error, "load sso domain")
}

// DecideSSODomainInTree is platform staff approving or refusing, from
// their list of pending domains, a domain claimed in the tree below
// rootID (or by rootID itself); the decision is DecideSSODomain's,
// recorded in the claiming company's audit log. Only a domain still
// waiting is decided: one proven by DNS, or decided by someone else,
// since the list was read is ErrChangedMeanwhile, and the domain comes
// back as it stands so the caller can say which.
func (s *Store) DecideSSODomainInTree(ctx context.Context, rootID, domainID int64, approve bool, note string) (*SSODomain, error) {
	var d *SSODomain
	err := s.Tx(ctx, func(tx *Store) error {
		var err error
		if d, err = tx.ssoDomainInTree(ctx, rootID, domainID, true); err != nil {
			return err
		}
		if d.Proof != ProofNone {
			return fmt.Errorf("decide sso domain %s: it is %s: %w", d.Domain, d.Proof, ErrChangedMeanwhile)
		}
		if err := tx.DecideSSODomain(ctx, d.TenantID, d.ID, approve, note); err != nil {
			return err
		}
		d, err = tx.SSODomainOf(ctx, d.TenantID, d.ID)
		return err
	})
	return d, err
}
