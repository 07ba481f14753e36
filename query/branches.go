package query

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/wardops/wardops/model"
)

// branchHandlers serves and writes branches; reads add each branch's device counts from the
// snapshot.
type branchHandlers struct {
	responder
	st    BranchStore
	snaps *snapshots
}

// branchCountsOf tallies the snapshot's devices per branch id.
func branchCountsOf(snap *snapshot) map[int64]*counts {
	out := map[int64]*counts{}
	for i := range snap.Devices {
		d := &snap.Devices[i]
		c, ok := out[d.BranchID]
		if !ok {
			c = &counts{}
			out[d.BranchID] = c
		}
		c.add(d.Status)
	}
	return out
}

// listBranches returns every branch with its device counts by state.
func (h *branchHandlers) list(c *gin.Context) {
	if _, err := queryParams(c); err != nil {
		h.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	bs, err := h.st.ListBranches(ctx)
	if err != nil {
		h.fail(c, err)
		return
	}
	var byBranch map[int64]*counts
	if snap, err := h.snaps.get(ctx); err == nil {
		byBranch = branchCountsOf(snap)
	}
	out := make([]branchView, len(bs))
	for i, b := range bs {
		out[i] = toBranchView(b)
		cnt := counts{}
		if bc, ok := byBranch[b.ID]; ok {
			cnt = *bc
		}
		out[i].Counts = &cnt
	}
	c.JSON(http.StatusOK, gin.H{"items": out, "total": len(out)})
}

func (h *branchHandlers) get(c *gin.Context) {
	id, err := pathID(c)
	if err == nil {
		_, err = queryParams(c)
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	b, err := lookupBranch(c.Request.Context(), h.st, id)
	if err != nil {
		h.fail(c, err)
		return
	}
	out := toBranchView(b)
	if snap, err := h.snaps.get(c.Request.Context()); err == nil {
		cnt := counts{}
		if bc, ok := branchCountsOf(snap)[id]; ok {
			cnt = *bc
		}
		out.Counts = &cnt
	}
	c.JSON(http.StatusOK, out)
}

// lookupBranch reads one branch; an unknown id is the API's 404 naming the id.
func lookupBranch(ctx context.Context, st BranchStore, id int64) (model.Branch, error) {
	b, err := st.GetBranch(ctx, id)
	if errors.Is(err, model.ErrNotFound) {
		return b, notFound("branch", id)
	}
	return b, err
}

type branchBody struct {
	Name   *string `json:"name"`
	Region *string `json:"region"`
}

func (b *branchBody) validate(create bool) error {
	if create && b.Name == nil {
		return badParam("name", "required")
	}
	if b.Name != nil {
		if err := checkText("name", *b.Name, 200, true); err != nil {
			return err
		}
	}
	if b.Region != nil {
		if err := checkText("region", *b.Region, 200, false); err != nil {
			return err
		}
	}
	return nil
}

func (h *branchHandlers) create(c *gin.Context) {
	var body branchBody
	if err := decodeBody(c, &body); err != nil {
		h.fail(c, err)
		return
	}
	if err := body.validate(true); err != nil {
		h.fail(c, err)
		return
	}
	region := ""
	if body.Region != nil {
		region = *body.Region
	}
	b, err := h.st.CreateBranch(c.Request.Context(), *body.Name, region)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.snaps.invalidate()
	c.Header("Location", "/api/v1/branches/"+strconv.FormatInt(b.ID, 10))
	c.JSON(http.StatusCreated, toBranchView(b))
}

func (h *branchHandlers) update(c *gin.Context) {
	id, err := pathID(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	var body branchBody
	if err := decodeBody(c, &body); err != nil {
		h.fail(c, err)
		return
	}
	if err := body.validate(false); err != nil {
		h.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	cur, err := lookupBranch(ctx, h.st, id)
	if err != nil {
		h.fail(c, err)
		return
	}
	if body.Name != nil {
		cur.Name = *body.Name
	}
	if body.Region != nil {
		cur.Region = *body.Region
	}
	b, err := h.st.UpdateBranch(ctx, id, cur.Name, cur.Region)
	if errors.Is(err, model.ErrNotFound) {
		err = notFound("branch", id)
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	h.snaps.invalidate()
	c.JSON(http.StatusOK, toBranchView(b))
}

func (h *branchHandlers) delete(c *gin.Context) {
	id, err := pathID(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	err = h.st.DeleteBranch(c.Request.Context(), id)
	if errors.Is(err, model.ErrNotFound) {
		err = notFound("branch", id)
	}
	if errors.Is(err, model.ErrConflict) {
		// The only constraint a branch delete can hit is the devices' foreign key.
		err = &apiError{Status: http.StatusConflict, Param: "id", Message: "branch still has devices"}
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	h.snaps.invalidate()
	c.Status(http.StatusNoContent)
}
