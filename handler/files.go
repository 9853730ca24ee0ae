package handler

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/disintegration/imaging"
	"github.com/golang-jwt/jwt/v5"
	_ "golang.org/x/image/webp" // decode webp originals for thumbnails

	"github.com/hanzoai/base"
	"github.com/hanzoai/base/files"
	"github.com/hanzoai/base/records"
	"github.com/hanzoai/base/store"
)

// defaultFileTokenTTL is PocketBase's file token lifetime.
const defaultFileTokenTTL = 180 * time.Second

// writeTx runs fn in a write transaction like withTx, with a records.FileTx
// in fn's context when file storage is configured: uploads fn writes are
// removed again when the transaction fails, and the files it made obsolete
// are removed only after the commit.
func (h *Handler) writeTx(ctx context.Context, e *env, fn func(ctx context.Context, tx store.Tx) ([]base.Event, error)) error {
	var ft *records.FileTx
	if h.cfg.Files != nil {
		ft = records.NewFileTx(h.cfg.Files, e.id.Org)
		ctx = records.WithFileTx(ctx, ft)
	}
	err := h.withTx(ctx, e, func(tx store.Tx) ([]base.Event, error) { return fn(ctx, tx) })
	if ft == nil {
		return err
	}
	h.finishFiles(ctx, ft, err == nil)
	return err
}

// finishFiles commits or rolls back the storage side of a transaction.
// Failures leave unreferenced files behind and are only logged.
func (h *Handler) finishFiles(ctx context.Context, ft *records.FileTx, committed bool) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if committed {
		if err := ft.Commit(ctx); err != nil {
			h.log.WarnContext(ctx, "removing obsolete files failed", "err", err)
		}
		return
	}
	if err := ft.Rollback(ctx); err != nil {
		h.log.WarnContext(ctx, "removing uploads of a failed write failed", "err", err)
	}
}

// uploadFile adapts a multipart file part.
func uploadFile(fh *multipart.FileHeader) *records.File {
	return &records.File{Name: fh.Filename, Size: fh.Size, Open: func() (io.ReadCloser, error) { return fh.Open() }}
}

// mergeUploads adds the file parts of a body to data: under each part's
// key, after the string values (existing file names) sent under the same
// key, as §2.7 orders them.
func mergeUploads(data map[string]any, key string, fhs []*multipart.FileHeader) {
	var list []any
	switch v := data[key].(type) {
	case nil:
	case []any:
		list = slices.Clone(v)
	case []string:
		for _, s := range v {
			list = append(list, s)
		}
	case string:
		if v != "" {
			list = append(list, v)
		}
	default:
		list = append(list, v)
	}
	for _, fh := range fhs {
		list = append(list, uploadFile(fh))
	}
	data[key] = list
}

// bodyLimit is the body size limit of a record write to c: the configured
// limit plus room for every file field at its largest.
func (h *Handler) bodyLimit(c *base.Collection) int64 {
	limit := h.cfg.MaxBodySize
	if h.cfg.Files == nil {
		return limit
	}
	for _, f := range c.Fields {
		if f.Type == base.FieldFile {
			limit += f.EffectiveMaxSize() * int64(max(f.MaxSelect, 1))
		}
	}
	return limit
}

// refuseUploads is the answer to uploads without file storage.
func refuseUploads(keys []string) error {
	data := map[string]any{}
	for _, k := range keys {
		data[strings.Trim(k, "+-")] = base.NewFieldError("validation_file_upload_unsupported", "File storage is not configured.", nil)
	}
	return base.BadRequest("", data)
}

// withCollectionFiles wraps the collection delete and truncate routes: the
// records they delete (cascades included) and every file stored under the
// collection are removed once their transaction committed.
func (h *Handler) withCollectionFiles(fn orgHandler) orgHandler {
	return func(w http.ResponseWriter, r *http.Request, e *env) error {
		if h.cfg.Files == nil {
			return fn(w, r, e)
		}
		c := e.svc.Schema.Collection(r.PathValue("c"))
		ft := records.NewFileTx(h.cfg.Files, e.id.Org)
		r = r.WithContext(records.WithFileTx(r.Context(), ft))
		if err := fn(w, r, e); err != nil {
			return err
		}
		if c != nil && !c.IsView() {
			ft.DeleteAfterCommit(records.CollectionFilesPrefix(e.id.Org, c.ID))
		}
		h.finishFiles(r.Context(), ft, true)
		return nil
	}
}

// fileClaims are the claims of a file token: who (sub, the users mirror
// id, their token's claims for rules) in which org, and whether a
// superuser.
type fileClaims struct {
	Type         string         `json:"type"`
	ID           string         `json:"id"`
	CollectionID string         `json:"collectionId"`
	Org          string         `json:"org"`
	Superuser    bool           `json:"su,omitempty"`
	Platform     bool           `json:"pf,omitempty"`
	Claims       map[string]any `json:"claims,omitempty"`
	jwt.RegisteredClaims
}

// fileToken answers POST /files/token: a short-lived token for protected
// files, bound to the caller and the org the request acts in, signed with
// the deployment's shared secret (no server-side state).
func (h *Handler) fileToken(w http.ResponseWriter, r *http.Request) {
	id, err := h.identify(r)
	if err == nil && id.Guest() {
		err = base.Unauthorized("The request requires valid record authorization token.")
	}
	if err != nil {
		writeError(w, r, h.log, err)
		return
	}
	tok, err := h.signFileToken(id)
	if err != nil {
		writeError(w, r, h.log, err)
		return
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"token": tok})
}

func (h *Handler) signFileToken(id *base.Identity) (string, error) {
	now := h.now()
	c := fileClaims{
		Type: "file", ID: id.UserID, CollectionID: base.UsersMirror(id.Org).ID, Org: id.Org,
		Superuser: id.Superuser, Platform: id.Platform, Claims: id.Claims,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   id.Subject,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(h.cfg.FileTokenTTL)),
		},
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(h.cfg.FileTokenSecret)
	if err != nil {
		return "", fmt.Errorf("sign file token: %w", err)
	}
	return tok, nil
}

// fileIdentity returns who a file token names in org, or a guest of org
// when the token is absent, invalid, expired or for another org.
func (h *Handler) fileIdentity(ctx context.Context, tok, org string) *base.Identity {
	guest := &base.Identity{Org: org}
	if tok == "" {
		return guest
	}
	var c fileClaims
	_, err := jwt.ParseWithClaims(tok, &c, func(*jwt.Token) (any, error) { return h.cfg.FileTokenSecret, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithTimeFunc(h.now))
	if err != nil || c.Type != "file" || c.Subject == "" || c.Org != org {
		h.log.DebugContext(ctx, "file token refused; guest", "err", err)
		return guest
	}
	return &base.Identity{
		Org: org, Subject: c.Subject, UserID: base.UserRecordID(c.Subject), Claims: c.Claims,
		Superuser: c.Superuser, Platform: c.Platform,
	}
}

// downloadFile answers GET /files/{c}/{id}/{filename} (§8.1). The org
// comes from the collection id (base.OrgFromCollectionID), so the URL works
// with no headers; collections with other ids resolve like a guest's org.
func (h *Handler) downloadFile(w http.ResponseWriter, r *http.Request) {
	if err := h.serveFile(w, r); err != nil {
		writeError(w, r, h.log, err)
	}
}

// thumbSize is the shape of a thumb query parameter.
var thumbSize = regexp.MustCompile(`^(\d{1,5})x(\d{1,5})([tbf])?$`)

// thumbable are the original formats thumbnails are made of, by extension.
var thumbable = []string{".png", ".jpg", ".jpeg", ".gif", ".webp"}

// lookupFile resolves the file a download URL names and checks access:
// the record must reference it in a file field, and a protected field
// needs a file token whose holder passes the view rule with
// @request.context = "protectedFile". Every refusal is a 404.
func (h *Handler) lookupFile(r *http.Request) (*fileRef, error) {
	ctx := r.Context()
	cid, rid, name := r.PathValue("c"), r.PathValue("id"), r.PathValue("filename")
	if h.cfg.Files == nil || !segment(cid) || !segment(rid) || !segment(name) {
		return nil, base.NotFound("")
	}
	org := base.OrgFromCollectionID(cid)
	if org == "" {
		org = h.tenancy().GuestOrg(r.Host, r.Header.Get("X-Org-Id"))
	}
	if !base.ValidOrg(org) {
		return nil, base.NotFound("")
	}
	setLogAttrs(r, slog.String("org", org))
	ok, err := h.cfg.Store.Exists(ctx, org)
	if err != nil {
		return nil, storeError(err)
	}
	if !ok {
		return nil, base.NotFound("")
	}
	db, err := h.cfg.Store.Acquire(ctx, org)
	if err != nil {
		return nil, storeError(err)
	}
	defer db.Release()
	schema, err := h.schema(ctx, db)
	if err != nil {
		return nil, storeError(err)
	}
	c := schema.Collection(cid)
	if c == nil || c.IsView() {
		return nil, base.NotFound("")
	}
	rd, err := records.RulesDialect(db.Dialect())
	if err != nil {
		return nil, err
	}
	svc := records.NewService(schema, db.Dialect(), rd, h.now)
	rec, err := svc.View(ctx, db, c, rid, "", &records.Request{Identity: &base.Identity{Org: org, Superuser: true}, Method: http.MethodGet})
	if err != nil {
		if be := base.AsError(err); be.Status == http.StatusNotFound {
			return nil, base.NotFound("")
		}
		return nil, storeError(err)
	}
	var field *base.Field
	for _, f := range c.Fields {
		if f.Type == base.FieldFile && slices.Contains(fileNames(rec.Get(f.Name)), name) {
			field = f
			break
		}
	}
	if field == nil {
		return nil, base.NotFound("")
	}
	if field.Protected {
		q := r.URL.Query()
		id := h.fileIdentity(ctx, q.Get("token"), org)
		req := &records.Request{Identity: id, Method: http.MethodGet, Context: "protectedFile",
			Query: firstValues(q), Headers: headerValues(r.Header)}
		if _, err := svc.View(ctx, db, c, rid, "", req); err != nil {
			if be := base.AsError(err); be.Status >= 500 {
				return nil, storeError(err)
			}
			return nil, base.NotFound("")
		}
	}
	return &fileRef{org: org, collectionID: c.ID, recordID: rec.ID(), name: name, field: field}, nil
}

// fileRef is a file a download resolved: its storage key parts and the
// field that references it.
type fileRef struct {
	org, collectionID, recordID, name string
	field                             *base.Field
}

func (h *Handler) serveFile(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	ref, err := h.lookupFile(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	org, name, field := ref.org, ref.name, ref.field
	key := records.FileKey(org, ref.collectionID, ref.recordID, name)
	served := name
	var obj files.Object
	if size := q.Get("thumb"); size != "" && h.thumbAllowed(field, name, size) {
		tkey := records.ThumbKey(org, ref.collectionID, ref.recordID, name, size)
		obj, err = h.thumbnail(ctx, key, tkey, size)
		if err != nil {
			h.log.InfoContext(ctx, "thumbnail not made; serving the original", "key", key, "thumb", size, "err", err)
			obj = nil
		} else {
			served = size + "_" + name
		}
	}
	if obj == nil {
		obj, err = h.cfg.Files.Open(ctx, key)
		if err != nil {
			if errors.Is(err, files.ErrNotFound) {
				return base.NotFound("")
			}
			return fmt.Errorf("open file: %w", err)
		}
	}
	defer obj.Close()

	ctype, err := contentType(obj, served)
	if err != nil {
		return fmt.Errorf("read file: %w", err)
	}
	hdr := w.Header()
	hdr.Del("X-Frame-Options")
	hdr.Set("Content-Type", ctype)
	disposition := "attachment"
	if dl := q.Get("download"); (dl == "" || dl == "0" || dl == "false") && inlineType(ctype) {
		disposition = "inline"
	}
	hdr.Set("Content-Disposition", disposition+"; filename="+strconv.Quote(served))
	hdr.Set("Content-Security-Policy", "default-src 'none'; media-src 'self'; style-src 'unsafe-inline'; sandbox")
	hdr.Set("X-Content-Type-Options", "nosniff")
	if field.Protected {
		hdr.Set("Cache-Control", "private, max-age=180")
	} else {
		hdr.Set("Cache-Control", "max-age=2592000, stale-while-revalidate=86400")
	}
	if et := obj.ETag(); et != "" {
		hdr.Set("ETag", et)
	}
	var content io.ReadSeeker = obj
	if f, ok := obj.(interface{ OSFile() *os.File }); ok {
		// A plain *os.File lets net/http send the body with sendfile(2)
		// instead of copying it through user space.
		content = f.OSFile()
	}
	http.ServeContent(w, r, served, obj.ModTime(), content)
	return nil
}

// segment reports whether s can be one segment of a storage key.
func segment(s string) bool {
	return s != "" && !strings.Contains(s, "/") && files.ValidKey(s)
}

func fileNames(v any) []string {
	switch x := v.(type) {
	case string:
		if x == "" {
			return nil
		}
		return []string{x}
	case []string:
		return x
	}
	return nil
}

// thumbAllowed reports whether size is a thumbnail the field offers
// (100x100 always) for an image original.
func (h *Handler) thumbAllowed(f *base.Field, name, size string) bool {
	m := thumbSize.FindStringSubmatch(size)
	if m == nil || (m[1] == "0" && m[2] == "0") {
		return false
	}
	if (m[1] == "0" || m[2] == "0") && m[3] != "" {
		return false
	}
	if size != "100x100" && !slices.Contains(f.Thumbs, size) {
		return false
	}
	return slices.Contains(thumbable, strings.ToLower(path.Ext(name)))
}

// inlineTypes may be displayed by the browser (§8.1).
var inlineTypes = []string{
	"image/png", "image/jpg", "image/jpeg", "image/gif", "image/webp", "image/x-icon", "image/bmp",
	"video/webm", "video/mp4", "video/3gpp", "video/quicktime", "video/x-ms-wmv",
	"audio/basic", "audio/aiff", "audio/mpeg", "audio/midi", "audio/mp3", "audio/wave", "audio/wav",
	"audio/x-wav", "audio/x-mpeg", "audio/x-m4a", "audio/aac", "audio/mp4", "audio/x-aiff", "audio/ogg",
	"application/pdf", "application/x-pdf",
}

func inlineType(ct string) bool {
	ct, _, _ = strings.Cut(ct, ";")
	return slices.Contains(inlineTypes, strings.TrimSpace(ct))
}

// extTypes override the sniffed type by extension (§8.1).
var extTypes = map[string]string{
	".svg":  "image/svg+xml",
	".css":  "text/css",
	".js":   "text/javascript",
	".mjs":  "text/javascript",
	".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}

// contentType is the served type: by extension for the types of extTypes,
// else the type stored with the object, else sniffed from its first bytes
// (the object is rewound).
func contentType(obj files.Object, name string) (string, error) {
	if t, ok := extTypes[strings.ToLower(path.Ext(name))]; ok {
		return t, nil
	}
	if t := obj.ContentType(); t != "" && t != "application/octet-stream" {
		return t, nil
	}
	head := make([]byte, 512)
	n, err := io.ReadFull(obj, head)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return "", err
	}
	if _, err := obj.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	return records.DetectContentType(head[:n], name), nil
}

// maxThumbSource bounds the originals thumbnails are made of: bytes and
// decoded pixels (a small file can decode to a huge image).
const (
	maxThumbSource = 64 << 20
	maxThumbPixels = 50_000_000
)

// thumbnail opens the thumbnail tkey of the original key, generating and
// storing it first when it does not exist yet. Concurrent requests for the
// same thumbnail in this process generate it once.
func (h *Handler) thumbnail(ctx context.Context, key, tkey, size string) (files.Object, error) {
	obj, err := h.cfg.Files.Open(ctx, tkey)
	if err == nil || !errors.Is(err, files.ErrNotFound) {
		return obj, err
	}
	if err := h.thumbs.do(tkey, func() error { return h.makeThumb(context.WithoutCancel(ctx), key, tkey, size) }); err != nil {
		return nil, err
	}
	return h.cfg.Files.Open(ctx, tkey)
}

func (h *Handler) makeThumb(ctx context.Context, key, tkey, size string) error {
	if o, err := h.cfg.Files.Open(ctx, tkey); err == nil {
		o.Close()
		return nil // made meanwhile (by another process)
	}
	src, err := h.cfg.Files.Open(ctx, key)
	if err != nil {
		return err
	}
	defer src.Close()
	if src.Size() > maxThumbSource {
		return fmt.Errorf("original of %d bytes is too large for a thumbnail", src.Size())
	}
	data, err := io.ReadAll(src)
	if err != nil {
		return err
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("decode image: %w", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > maxThumbPixels {
		return fmt.Errorf("image of %dx%d is not thumbnailable", cfg.Width, cfg.Height)
	}
	img, err := imaging.Decode(bytes.NewReader(data), imaging.AutoOrientation(true))
	if err != nil {
		return fmt.Errorf("decode image: %w", err)
	}
	m := thumbSize.FindStringSubmatch(size)
	w, _ := strconv.Atoi(m[1])
	ht, _ := strconv.Atoi(m[2])
	var out image.Image
	switch {
	case w == 0 || ht == 0:
		out = imaging.Resize(img, w, ht, imaging.Linear)
	case m[3] == "f":
		out = imaging.Fit(img, w, ht, imaging.Linear)
	case m[3] == "t":
		out = imaging.Fill(img, w, ht, imaging.Top, imaging.Linear)
	case m[3] == "b":
		out = imaging.Fill(img, w, ht, imaging.Bottom, imaging.Linear)
	default:
		out = imaging.Fill(img, w, ht, imaging.Center, imaging.Linear)
	}
	var buf bytes.Buffer
	ctype := "image/png"
	switch format {
	case "jpeg":
		ctype = "image/jpeg"
		err = jpeg.Encode(&buf, out, &jpeg.Options{Quality: 85})
	case "gif":
		ctype = "image/gif"
		err = gif.Encode(&buf, out, nil)
	default: // png, and webp (no encoder): PNG
		err = (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, out)
	}
	if err != nil {
		return fmt.Errorf("encode thumbnail: %w", err)
	}
	return h.cfg.Files.Put(ctx, tkey, &buf, int64(buf.Len()), ctype)
}

// flight runs one call per key at a time; concurrent callers of the same
// key wait for it and share its result.
type flight struct {
	mu    sync.Mutex
	calls map[string]*flightCall
}

type flightCall struct {
	done chan struct{}
	err  error
}

func (f *flight) do(key string, fn func() error) error {
	f.mu.Lock()
	if c, ok := f.calls[key]; ok {
		f.mu.Unlock()
		<-c.done
		return c.err
	}
	if f.calls == nil {
		f.calls = map[string]*flightCall{}
	}
	c := &flightCall{done: make(chan struct{})}
	f.calls[key] = c
	f.mu.Unlock()
	c.err = fn()
	f.mu.Lock()
	delete(f.calls, key)
	f.mu.Unlock()
	close(c.done)
	return c.err
}
