package store

import (
	"context"
	"fmt"
)

// ProgramSummary is a program with the number of its partners, as the
// dashboard's program list shows it.
type ProgramSummary struct {
	Program
	Partners int64 `db:"partners"`
}

// ListProgramSummaries lists a workspace's programs, newest first, each
// with its partner count. The count runs per listed program on the
// partners_program_idx index, never over the whole partners table.
func (q Queries) ListProgramSummaries(ctx context.Context, workspaceID string, page Page) ([]ProgramSummary, *string, error) {
	t, id := page.cursorArgs()
	var rows []ProgramSummary
	err := q.sel(ctx, &rows, `SELECT `+programCols+`,
			(SELECT count(*) FROM partners pa WHERE pa.workspace_id = p.workspace_id AND pa.program_id = p.id) AS partners
		FROM programs p
		WHERE p.workspace_id = $1 AND ($2::timestamptz IS NULL OR (p.created_at, p.id) < ($2, $3))
		ORDER BY p.created_at DESC, p.id DESC LIMIT $4`, workspaceID, t, id, page.fetch())
	if err != nil {
		return nil, nil, fmt.Errorf("store: list program summaries: %w", err)
	}
	rows, next := trim(page, rows, func(p ProgramSummary) Cursor { return Cursor{p.CreatedAt, p.ID} })
	return rows, next, nil
}

// GroupPartnerCounts counts a program's partners per group; partners
// without a group are counted under "".
func (q Queries) GroupPartnerCounts(ctx context.Context, workspaceID, programID string) (map[string]int64, error) {
	var rows []struct {
		GroupID string `db:"group_id"`
		N       int64  `db:"n"`
	}
	err := q.sel(ctx, &rows, `SELECT coalesce(group_id, '') AS group_id, count(*) AS n
		FROM partners WHERE workspace_id = $1 AND program_id = $2 GROUP BY group_id`, workspaceID, programID)
	if err != nil {
		return nil, fmt.Errorf("store: group partner counts: %w", err)
	}
	counts := make(map[string]int64, len(rows))
	for _, r := range rows {
		counts[r.GroupID] = r.N
	}
	return counts, nil
}
