package records

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/gif"
	_ "image/jpeg"
	_ "image/png"
	"io"
	"net/http"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode"

	"github.com/hanzoai/base"
	"github.com/hanzoai/base/files"
)

// File is a file uploaded with a record body. A body value of a file field
// (under "name", "name+" or "+name") may be a *File, or a list mixing *File
// values and names of files already on the record; Create and Update give
// each upload a stored name (StoredName), check it against the field's
// maxSize and mimeTypes and write it to storage through Request.Files
// before the record is written.
type File struct {
	// Name is the client's file name; only its base name and extension
	// are used.
	Name string
	// Size is the content length in bytes.
	Size int64
	// Open returns the content; it may be called more than once.
	Open func() (io.ReadCloser, error)
}

// FileKey is the storage key of a record's file: {org}/{collectionId}/
// {recordId}/{name}.
func FileKey(org, collectionID, recordID, name string) string {
	return org + "/" + collectionID + "/" + recordID + "/" + name
}

// RecordFilesPrefix is the storage prefix of everything a record stores.
func RecordFilesPrefix(org, collectionID, recordID string) string {
	return org + "/" + collectionID + "/" + recordID + "/"
}

// CollectionFilesPrefix is the storage prefix of every file of a
// collection.
func CollectionFilesPrefix(org, collectionID string) string {
	return org + "/" + collectionID + "/"
}

// ThumbsPrefix is the storage prefix of the thumbnails of a file.
func ThumbsPrefix(org, collectionID, recordID, name string) string {
	return RecordFilesPrefix(org, collectionID, recordID) + "thumbs_" + name + "/"
}

// ThumbKey is the storage key of the size thumbnail of a file.
func ThumbKey(org, collectionID, recordID, name, size string) string {
	return ThumbsPrefix(org, collectionID, recordID, name) + size + "_" + name
}

// FileTx is the storage side of one database transaction: uploads are
// written before the commit and removed again by Rollback; files that the
// transaction replaces or whose records it deletes are removed only by
// Commit, once the database change is durable. It is safe for concurrent
// use.
type FileTx struct {
	storage files.Storage
	org     string

	mu      sync.Mutex
	written []string
	later   []string // keys, or prefixes ending in "/"
}

// NewFileTx returns a FileTx writing org's files to st.
func NewFileTx(st files.Storage, org string) *FileTx {
	return &FileTx{storage: st, org: org}
}

// Storage is the storage the transaction writes to.
func (ft *FileTx) Storage() files.Storage { return ft.storage }

// put writes one upload and remembers it for Rollback.
func (ft *FileTx) put(ctx context.Context, key string, f *File, ctype string) error {
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("open upload %s: %w", f.Name, err)
	}
	defer rc.Close()
	ft.mu.Lock()
	ft.written = append(ft.written, key)
	ft.mu.Unlock()
	if err := ft.storage.Put(ctx, key, rc, f.Size, ctype); err != nil {
		return fmt.Errorf("store upload %s: %w", f.Name, err)
	}
	return nil
}

// DeleteAfterCommit schedules keys, or prefixes ending in "/", for removal
// by Commit.
func (ft *FileTx) DeleteAfterCommit(keys ...string) {
	ft.mu.Lock()
	ft.later = append(ft.later, keys...)
	ft.mu.Unlock()
}

// Written lists the keys the transaction wrote.
func (ft *FileTx) Written() []string {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return slices.Clone(ft.written)
}

// Rollback removes what the transaction wrote. Call it when the database
// transaction rolled back. It tries every key and returns the failures
// joined.
func (ft *FileTx) Rollback(ctx context.Context) error {
	ft.mu.Lock()
	keys := ft.written
	ft.written, ft.later = nil, nil
	ft.mu.Unlock()
	var errs []error
	for _, k := range keys {
		if err := ft.storage.Delete(ctx, k); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Commit removes the files the committed transaction made obsolete. It
// tries every key and returns the failures joined (the files stay behind,
// unreferenced).
func (ft *FileTx) Commit(ctx context.Context) error {
	ft.mu.Lock()
	keys := ft.later
	ft.written, ft.later = nil, nil
	ft.mu.Unlock()
	var errs []error
	for _, k := range keys {
		var err error
		if strings.HasSuffix(k, "/") {
			err = ft.storage.DeletePrefix(ctx, k)
		} else {
			err = ft.storage.Delete(ctx, k)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

type fileTxKey struct{}

// WithFileTx returns ctx carrying ft: Create, Update and Delete called with
// it write uploads and schedule file removals there. Without one, uploads
// are refused (400) and removals are skipped.
func WithFileTx(ctx context.Context, ft *FileTx) context.Context {
	return context.WithValue(ctx, fileTxKey{}, ft)
}

// FileTxFrom returns the FileTx of ctx, or nil.
func FileTxFrom(ctx context.Context) *FileTx {
	ft, _ := ctx.Value(fileTxKey{}).(*FileTx)
	return ft
}

// upload is a File waiting to be written under its stored name.
type upload struct {
	field *base.Field
	file  *File
	name  string
	ctype string // sniffed from the content
}

// sniffLen is how much of a file content detection reads.
const sniffLen = 512

// takeUploads replaces every *File in input (the values of file field
// keys) with a fresh stored name and returns the uploads by stored name.
// Files submitted for other fields are dropped. Reading an upload's first
// bytes for type detection failing is a 400.
func takeUploads(c *base.Collection, input map[string]any) (map[string]*upload, error) {
	var ups map[string]*upload
	for key, v := range input {
		var list []any
		switch x := v.(type) {
		case *File:
			list = []any{x}
		case []any:
			if !slices.ContainsFunc(x, func(e any) bool { _, ok := e.(*File); return ok }) {
				continue
			}
			list = x
		default:
			continue
		}
		f, _ := resolveKey(c, key)
		if f == nil || f.Type != base.FieldFile {
			kept := slices.DeleteFunc(slices.Clone(list), func(e any) bool { _, ok := e.(*File); return ok })
			input[key] = kept
			continue
		}
		out := make([]any, 0, len(list))
		for _, e := range list {
			file, ok := e.(*File)
			if !ok {
				out = append(out, e)
				continue
			}
			head, err := readHead(file)
			if err != nil {
				return nil, base.BadRequest("", map[string]any{f.Name: base.NewFieldError("validation_invalid_file", "Failed to read the uploaded file "+file.Name+".", nil)}).Wrap(err)
			}
			ctype := DetectContentType(head, file.Name)
			name := StoredName(file.Name, ctype)
			if ups == nil {
				ups = map[string]*upload{}
			}
			ups[name] = &upload{field: f, file: file, name: name, ctype: ctype}
			out = append(out, name)
		}
		input[key] = out
	}
	return ups, nil
}

func readHead(f *File) ([]byte, error) {
	if f.Open == nil {
		return nil, errors.New("upload has no content")
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	buf := make([]byte, sniffLen)
	n, err := io.ReadFull(rc, buf)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, err
	}
	return buf[:n], nil
}

// checkUpload validates an upload against its field's maxSize and
// mimeTypes.
func checkUpload(up *upload) *base.FieldError {
	f := up.field
	if maxSize := f.EffectiveMaxSize(); up.file.Size > maxSize {
		return base.NewFieldError("validation_file_size_limit",
			fmt.Sprintf("Failed to upload %q - the maximum allowed file size is %d bytes.", up.file.Name, maxSize),
			map[string]any{"file": up.file.Name, "maxSize": maxSize})
	}
	if len(f.MimeTypes) > 0 && !MimeTypeAllowed(up.ctype, f.MimeTypes) {
		return base.NewFieldError("validation_invalid_mime_type",
			fmt.Sprintf("%q mime type must be one of: %s.", up.file.Name, strings.Join(f.MimeTypes, ", ")),
			map[string]any{"file": up.file.Name, "mimeTypes": strings.Join(f.MimeTypes, ", ")})
	}
	if len(f.Thumbs) > 0 && decodableImageType(up.ctype) && !decodes(up.file) {
		// A field with thumbnails promises images it can resize: an image
		// whose signature is right but whose content is corrupt is refused
		// here rather than failing later on every thumbnail request.
		return base.NewFieldError("validation_invalid_image",
			fmt.Sprintf("%q is not a valid image.", up.file.Name), map[string]any{"file": up.file.Name})
	}
	return nil
}

// decodableImageType reports whether thumbnails are made for ctype.
func decodableImageType(ctype string) bool {
	switch mediaType(ctype) {
	case "image/png", "image/jpeg", "image/gif":
		return true
	}
	return false
}

// decodes reports whether f's content decodes as an image in full.
func decodes(f *File) bool {
	rc, err := f.Open()
	if err != nil {
		return false
	}
	defer rc.Close()
	_, _, err = image.Decode(rc)
	return err == nil
}

// MimeTypeAllowed reports whether the detected type ctype (parameters
// ignored) is one of allowed; "image/jpg" and "image/jpeg" are the same,
// and an entry "type/*" allows the whole type.
func MimeTypeAllowed(ctype string, allowed []string) bool {
	ct := mediaType(ctype)
	for _, a := range allowed {
		a = mediaType(a)
		if a == ct || (a == "image/jpg" && ct == "image/jpeg") {
			return true
		}
		if prefix, ok := strings.CutSuffix(a, "/*"); ok && strings.HasPrefix(ct, prefix+"/") {
			return true
		}
	}
	return false
}

func mediaType(ct string) string {
	ct, _, _ = strings.Cut(ct, ";")
	return strings.ToLower(strings.TrimSpace(ct))
}

// officeTypes are the zip-based document types recognized by extension
// once the content is known to be a zip archive.
var officeTypes = map[string]string{
	".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
	".odt":  "application/vnd.oasis.opendocument.text",
	".ods":  "application/vnd.oasis.opendocument.spreadsheet",
	".epub": "application/epub+zip",
}

// DetectContentType returns the media type of a file from its first bytes
// (http.DetectContentType), refined where the signature alone cannot tell:
// SVG documents, and zip-based office documents named by their extension.
// The client's claimed type is never consulted.
func DetectContentType(head []byte, name string) string {
	ct := http.DetectContentType(head)
	ext := strings.ToLower(path.Ext(name))
	switch mediaType(ct) {
	case "text/xml", "text/plain", "text/html":
		if looksLikeSVG(head) {
			return "image/svg+xml"
		}
	case "application/zip":
		if t, ok := officeTypes[ext]; ok {
			return t
		}
	}
	return ct
}

func looksLikeSVG(head []byte) bool {
	h := bytes.ToLower(head)
	i := bytes.Index(h, []byte("<svg"))
	return i >= 0 && !bytes.Contains(h[:i], []byte("<html"))
}

// extByType names an extension for content that arrived without one.
var extByType = map[string]string{
	"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "image/webp": ".webp",
	"image/bmp": ".bmp", "image/svg+xml": ".svg", "image/x-icon": ".ico", "application/pdf": ".pdf",
	"text/plain": ".txt", "text/html": ".html", "text/xml": ".xml", "application/json": ".json",
	"application/zip": ".zip", "application/x-gzip": ".gz", "video/mp4": ".mp4", "video/webm": ".webm",
	"audio/mpeg": ".mp3", "audio/wave": ".wav", "audio/ogg": ".ogg", "application/ogg": ".ogg",
}

var (
	extInvalid = regexp.MustCompile(`[^\w.*\-+=#]+`)
	wordSplit  = regexp.MustCompile(`[\W_]+`)
)

// StoredName returns the name a file uploaded as original is stored under:
// "<snake_cased base, at most 100 chars; 10 random chars appended when
// shorter than 3>_<10 random [a-z0-9]><ext>", the extension cleaned of
// unusual characters, at most 20 chars, taken from ctype when original
// has none (PocketBase's format). The result is always a valid single
// storage key segment.
func StoredName(original, ctype string) string {
	base := path.Base(strings.ReplaceAll(original, "\\", "/"))
	if base == "." || base == "/" {
		base = ""
	}
	ext := path.Ext(base)
	if stem := strings.TrimSuffix(base, ext); strings.HasSuffix(strings.ToLower(stem), ".tar") {
		ext = stem[len(stem)-4:] + ext
	}
	stem := strings.TrimSuffix(base, ext)
	cleanExt := extInvalid.ReplaceAllString(ext, "")
	if strings.Trim(cleanExt, ".") == "" {
		cleanExt = extByType[mediaType(ctype)]
	}
	if len(cleanExt) > 20 {
		cleanExt = "." + cleanExt[len(cleanExt)-20:]
	}
	name := snakeCase(stem)
	switch {
	case len(name) < 3:
		name += NewID()[:10]
	case len(name) > 100:
		name = name[:100]
	}
	return name + "_" + NewID()[:10] + cleanExt
}

// snakeCase is PocketBase's Snakecase: words split at non-word characters
// and underscores and at lower-to-upper case changes, joined with "_",
// lower-cased. Non-ASCII letters count as separators.
func snakeCase(s string) string {
	var b strings.Builder
	for _, word := range wordSplit.Split(s, -1) {
		if word == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('_')
		}
		for i, c := range word {
			if i > 0 && unicode.IsUpper(c) && !unicode.IsUpper(rune(word[i-1])) {
				b.WriteByte('_')
			}
			b.WriteRune(c)
		}
	}
	return strings.ToLower(b.String())
}

// storeUploads writes the uploads rec still references (an upload that a
// later modifier removed, or that lost to another value of a single
// field, is not written) under rec's key prefix.
func (s *Service) storeUploads(ctx context.Context, rec *Record, ups map[string]*upload) error {
	if len(ups) == 0 {
		return nil
	}
	ft := FileTxFrom(ctx)
	if ft == nil {
		return base.BadRequest("", map[string]any{firstUploadField(ups): base.NewFieldError("validation_file_upload_unsupported", "File storage is not configured.", nil)})
	}
	c := rec.Collection
	for _, f := range c.Fields {
		if f.Type != base.FieldFile {
			continue
		}
		for _, name := range asList(rec.Get(f.Name)) {
			up, ok := ups[name]
			if !ok {
				continue
			}
			if err := ft.put(ctx, FileKey(ft.org, c.ID, rec.ID(), name), up.file, up.ctype); err != nil {
				return classify(err)
			}
		}
	}
	return nil
}

func firstUploadField(ups map[string]*upload) string {
	names := make([]string, 0, len(ups))
	for _, up := range ups {
		names = append(names, up.field.Name)
	}
	slices.Sort(names)
	return names[0]
}

// scheduleReplaced schedules the files old referenced and rec no longer
// does (with their thumbnails) for removal after the commit.
func (s *Service) scheduleReplaced(ctx context.Context, rec, old *Record) {
	ft := FileTxFrom(ctx)
	if ft == nil {
		return
	}
	c := rec.Collection
	for _, f := range c.Fields {
		if f.Type != base.FieldFile {
			continue
		}
		now := asList(rec.Get(f.Name))
		for _, name := range asList(old.Get(f.Name)) {
			if !slices.Contains(now, name) && files.ValidKey(FileKey(ft.org, c.ID, rec.ID(), name)) {
				ft.DeleteAfterCommit(FileKey(ft.org, c.ID, rec.ID(), name), ThumbsPrefix(ft.org, c.ID, rec.ID(), name))
			}
		}
	}
}

// scheduleRecordFiles schedules every file of a deleted record for
// removal after the commit.
func (s *Service) scheduleRecordFiles(ctx context.Context, rec *Record) {
	ft := FileTxFrom(ctx)
	if ft == nil || !slices.ContainsFunc(rec.Collection.Fields, func(f *base.Field) bool { return f.Type == base.FieldFile }) {
		return
	}
	if p := RecordFilesPrefix(ft.org, rec.Collection.ID, rec.ID()); files.ValidPrefix(p) {
		ft.DeleteAfterCommit(p)
	}
}
