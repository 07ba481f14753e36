package query

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/wardops/wardops/model"
)

type branchView struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Region    string    `json:"region"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Counts    *counts   `json:"counts,omitempty"`
}

func toBranchView(b model.Branch) branchView {
	return branchView{ID: b.ID, Name: b.Name, Region: b.Region, CreatedAt: b.CreatedAt.UTC(), UpdatedAt: b.UpdatedAt.UTC()}
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
func (s *Server) listBranches(c *gin.Context) {
	if _, err := queryParams(c); err != nil {
		s.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	bs, err := s.st.ListBranches(ctx)
	if err != nil {
		s.fail(c, err)
		return
	}
	var byBranch map[int64]*counts
	if snap, err := s.snapshot(ctx); err == nil {
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

func (s *Server) getBranch(c *gin.Context) {
	id, err := pathID(c)
	if err == nil {
		_, err = queryParams(c)
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	b, err := s.st.GetBranch(c.Request.Context(), id)
	if errors.Is(err, model.ErrNotFound) {
		err = notFound("branch", id)
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	out := toBranchView(b)
	if snap, err := s.snapshot(c.Request.Context()); err == nil {
		cnt := counts{}
		if bc, ok := branchCountsOf(snap)[id]; ok {
			cnt = *bc
		}
		out.Counts = &cnt
	}
	c.JSON(http.StatusOK, out)
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

func (s *Server) createBranch(c *gin.Context) {
	var body branchBody
	if err := decodeBody(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	if err := body.validate(true); err != nil {
		s.fail(c, err)
		return
	}
	region := ""
	if body.Region != nil {
		region = *body.Region
	}
	b, err := s.st.CreateBranch(c.Request.Context(), *body.Name, region)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.invalidate()
	c.Header("Location", "/api/v1/branches/"+strconv.FormatInt(b.ID, 10))
	c.JSON(http.StatusCreated, toBranchView(b))
}

func (s *Server) updateBranch(c *gin.Context) {
	id, err := pathID(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	var body branchBody
	if err := decodeBody(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	if err := body.validate(false); err != nil {
		s.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	cur, err := s.st.GetBranch(ctx, id)
	if errors.Is(err, model.ErrNotFound) {
		err = notFound("branch", id)
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	if body.Name != nil {
		cur.Name = *body.Name
	}
	if body.Region != nil {
		cur.Region = *body.Region
	}
	b, err := s.st.UpdateBranch(ctx, id, cur.Name, cur.Region)
	if errors.Is(err, model.ErrNotFound) {
		err = notFound("branch", id)
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	s.invalidate()
	c.JSON(http.StatusOK, toBranchView(b))
}

func (s *Server) deleteBranch(c *gin.Context) {
	id, err := pathID(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	err = s.st.DeleteBranch(c.Request.Context(), id)
	if errors.Is(err, model.ErrNotFound) {
		err = notFound("branch", id)
	}
	if errors.Is(err, model.ErrConflict) {
		err = &apiError{Status: http.StatusConflict, Param: "id", Message: "branch still has devices"}
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	s.invalidate()
	c.Status(http.StatusNoContent)
}
