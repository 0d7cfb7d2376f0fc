/* Config loading: cJSON parse, schema walk, overrides, error messages. */
#include "src/config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/check.h"

#define MAX_REPORTED 20

/* Collects one message per line into the caller's buffer. */
typedef struct {
    char *buf;
    size_t len, used;
    int count;
} errlog;

MZ_PRINTF(2, 3) static void err_add(errlog *e, const char *fmt, ...) {
    e->count++;
    if (e->count > MAX_REPORTED || !e->buf || e->len == 0) return;
    if (e->used && e->used + 1 < e->len) e->buf[e->used++] = '\n';
    if (e->used >= e->len) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(e->buf + e->used, e->len - e->used, fmt, ap);
    va_end(ap);
    if (n > 0) e->used += (size_t)n < e->len - e->used ? (size_t)n : e->len - e->used - 1;
}

static const mz_cfg_key *find_key(const char *key) {
    for (int i = 0; i < mz_config_schema_len; i++)
        if (!strcmp(mz_config_schema[i].key, key)) return &mz_config_schema[i];
    return NULL;
}

/* A section is a proper prefix of some key, ending at a dot. */
static bool is_section(const char *path) {
    size_t n = strlen(path);
    for (int i = 0; i < mz_config_schema_len; i++) {
        const char *k = mz_config_schema[i].key;
        if (strlen(k) > n && !strncmp(k, path, n) && k[n] == '.') return true;
    }
    return false;
}

/* The index of `text` in "a|b|c", or -1. */
static int choice_index(const char *choices, const char *text) {
    size_t n = strlen(text);
    int index = 0;
    for (const char *p = choices;; index++) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, text, n)) return index;
        if (!bar) return -1;
        p = bar + 1;
    }
}

const char *mz_config_enum_name(const char *key, int value) {
    /* a few rotating buffers, so that several names can appear in one printf */
    static char names[8][MZ_CFG_STR];
    static unsigned next;
    char *name = names[next++ % 8];
    const mz_cfg_key *k = find_key(key);
    if (!k || k->type != MZ_CFG_ENUM) return "?";
    const char *p = k->choices;
    for (int i = 0; i < value && p; i++) {
        p = strchr(p, '|');
        if (p) p++;
    }
    if (!p || value < 0) return "?";
    const char *bar = strchr(p, '|');
    size_t len = bar ? (size_t)(bar - p) : strlen(p);
    if (len >= MZ_CFG_STR) len = MZ_CFG_STR - 1;
    memcpy(name, p, len);
    name[len] = '\0';
    return name;
}

static void describe_expected(const mz_cfg_key *k, char *out, size_t len) {
    switch (k->type) {
    case MZ_CFG_INT:
        if (k->max >= 9007199254740991.0)
            snprintf(out, len, "an integer >= %.0f", k->min);
        else
            snprintf(out, len, "an integer in [%.0f, %.0f]", k->min, k->max);
        break;
    case MZ_CFG_FLOAT: snprintf(out, len, "a number in [%g, %g]", k->min, k->max); break;
    case MZ_CFG_BOOL: snprintf(out, len, "true or false"); break;
    case MZ_CFG_ENUM: {
        size_t used = (size_t)snprintf(out, len, "one of ");
        for (const char *p = k->choices; *p && used + 2 < len; p++) {
            if (*p == '|') {
                out[used++] = ',';
                out[used++] = ' ';
            } else {
                out[used++] = *p;
            }
        }
        out[used < len ? used : len - 1] = '\0';
        break;
    }
    case MZ_CFG_STRING:
        if (k->check)
            snprintf(out, len, "%s", k->check(""));
        else
            snprintf(out, len, "a string of at most %zu characters", k->size - 1);
        break;
    }
}

/* Stores `text` into the field of `k`. 0, or -1 when it does not fit. */
static int set_from_text(mz_config *cfg, const mz_cfg_key *k, const char *text) {
    char *field = (char *)cfg + k->offset;
    char *end = NULL;
    switch (k->type) {
    case MZ_CFG_INT: {
        errno = 0;
        long long v = strtoll(text, &end, 10);
        if (errno || end == text || *end != '\0' || (double)v < k->min || (double)v > k->max) return -1;
        *(int64_t *)field = (int64_t)v;
        return 0;
    }
    case MZ_CFG_FLOAT: {
        errno = 0;
        double v = strtod(text, &end);
        if (errno || end == text || *end != '\0' || !isfinite(v) || v < k->min || v > k->max) return -1;
        *(double *)field = v;
        return 0;
    }
    case MZ_CFG_BOOL:
        if (!strcmp(text, "true")) *(bool *)field = true;
        else if (!strcmp(text, "false")) *(bool *)field = false;
        else return -1;
        return 0;
    case MZ_CFG_ENUM: {
        int index = choice_index(k->choices, text);
        if (index < 0) return -1;
        *(int *)field = index;
        return 0;
    }
    case MZ_CFG_STRING:
        if (strlen(text) >= k->size || (k->check && k->check(text))) return -1;
        memcpy(field, text, strlen(text) + 1);
        return 0;
    }
    return -1;
}

void mz_config_defaults(mz_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    for (int i = 0; i < mz_config_schema_len; i++)
        MZ_CHECK(set_from_text(cfg, &mz_config_schema[i], mz_config_schema[i].def) == 0,
                 "config schema: default '%s' of key '%s' does not pass its own check", mz_config_schema[i].def,
                 mz_config_schema[i].key);
}

/* ---- nearest key ---------------------------------------------------------- */

static size_t edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return (size_t)-1;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static const char *last_component(const char *path) {
    const char *dot = strrchr(path, '.');
    return dot ? dot + 1 : path;
}

/* The known key (or section) closest to `path`, or NULL if none is close.
 * A key whose last component matches exactly wins: "num_simulations" finds
 * "mcts.num_simulations". */
static const char *nearest_key(const char *path, char *section_buf, size_t section_len) {
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (int i = 0; i < mz_config_schema_len; i++) {
        const char *k = mz_config_schema[i].key;
        if (!strcmp(last_component(k), last_component(path)) && strchr(k, '.') != NULL) return k;
        size_t d = edit_distance(path, k);
        if (d < best_d) best_d = d, best = k;
        /* sections: every dotted prefix of the key */
        for (const char *dot = strchr(k, '.'); dot; dot = strchr(dot + 1, '.')) {
            size_t n = (size_t)(dot - k);
            if (n + 1 > section_len) continue;
            char sec[MZ_CFG_STR];
            if (n >= sizeof sec) continue;
            memcpy(sec, k, n);
            sec[n] = '\0';
            d = edit_distance(path, sec);
            if (d < best_d) {
                best_d = d;
                memcpy(section_buf, sec, n + 1);
                best = section_buf;
            }
        }
    }
    size_t limit = strlen(path) / 3;
    if (limit < 2) limit = 2;
    return best_d <= limit ? best : NULL;
}

static void report_unknown(errlog *e, const char *src, const char *path) {
    char section[MZ_CFG_STR];
    const char *near = nearest_key(path, section, sizeof section);
    if (near)
        err_add(e, "%s: unknown key '%s' (did you mean '%s'?)", src, path, near);
    else
        err_add(e, "%s: unknown key '%s' ('mazero config --schema' lists every key)", src, path);
}

/* ---- JSON ------------------------------------------------------------------ */

static void set_from_json(mz_config *cfg, const mz_cfg_key *k, const cJSON *v, errlog *e, const char *src) {
    bool kind_ok;
    switch (k->type) {
    case MZ_CFG_INT:
    case MZ_CFG_FLOAT: kind_ok = cJSON_IsNumber(v); break;
    case MZ_CFG_BOOL: kind_ok = cJSON_IsBool(v); break;
    default: kind_ok = cJSON_IsString(v); break;
    }
    char text[MZ_CFG_STR * 2] = "";
    char *printed = NULL;
    if (kind_ok) {
        if (cJSON_IsString(v)) {
            snprintf(text, sizeof text, "%s", v->valuestring);
            if (strlen(v->valuestring) >= sizeof text) kind_ok = false;
        } else if (cJSON_IsBool(v)) {
            snprintf(text, sizeof text, "%s", cJSON_IsTrue(v) ? "true" : "false");
        } else if (k->type == MZ_CFG_INT) {
            double d = v->valuedouble;
            if (d == floor(d) && fabs(d) <= 9007199254740991.0) snprintf(text, sizeof text, "%.0f", d);
            else kind_ok = false;
        } else {
            snprintf(text, sizeof text, "%.17g", v->valuedouble);
        }
    }
    if (kind_ok && set_from_text(cfg, k, text) == 0) return;
    char expected[256];
    describe_expected(k, expected, sizeof expected);
    printed = cJSON_PrintUnformatted(v);
    MZ_CHECK(printed, "cJSON_PrintUnformatted: out of memory");
    if (strlen(printed) > 60) strcpy(printed + 57, "...");
    err_add(e, "%s: %s: expected %s, got %s", src, k->key, expected, printed);
    cJSON_free(printed);
}

static void walk(mz_config *cfg, const cJSON *obj, const char *prefix, errlog *e, const char *src) {
    for (const cJSON *child = obj->child; child; child = child->next) {
        char path[256];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", child->string ? child->string : "");
        for (const cJSON *prev = obj->child; prev != child; prev = prev->next) {
            if (prev->string && child->string && !strcmp(prev->string, child->string)) {
                err_add(e, "%s: duplicate key '%s'", src, path);
                break;
            }
        }
        const mz_cfg_key *k = find_key(path);
        if (k) {
            set_from_json(cfg, k, child, e, src);
        } else if (is_section(path)) {
            if (cJSON_IsObject(child))
                walk(cfg, child, path, e, src);
            else
                err_add(e, "%s: '%s' is a section: expected an object of its keys", src, path);
        } else {
            report_unknown(e, src, path);
        }
    }
}

static char *read_text_file(const char *path, size_t *len, char *why, size_t why_len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(why, why_len, "%s", strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = (char *)mz_malloc(cap);
    for (;;) {
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
        if (n + 1 == cap) {
            if (cap >= ((size_t)16 << 20)) {
                snprintf(why, why_len, "file larger than 16 MiB");
                free(buf);
                fclose(f);
                return NULL;
            }
            cap *= 2;
            buf = (char *)mz_realloc(buf, cap);
        }
    }
    bool failed = ferror(f);
    fclose(f);
    if (failed) {
        snprintf(why, why_len, "read error");
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* `at` is where parsing stopped: cJSON's error position, or the first NUL. */
static void report_malformed(errlog *e, const char *path, const char *text, size_t len, const char *at) {
    if (!at || at < text || at > text + len) at = text + len;
    int line = 1, col = 1;
    for (const char *p = text; p < at; p++) {
        if (*p == '\n') line++, col = 1;
        else col++;
    }
    if (at < text + len && *at == '\0') {
        err_add(e, "%s:%d:%d: malformed JSON: NUL byte in the file", path, line, col);
        return;
    }
    char near[24];
    size_t n = 0;
    for (const char *p = at; *p && n < 20; p++) near[n++] = (*p == '\n' || *p == '\t' || *p == '\r') ? ' ' : *p;
    near[n] = '\0';
    if (n == 0)
        err_add(e, "%s:%d:%d: malformed JSON: unexpected end of file", path, line, col);
    else
        err_add(e, "%s:%d:%d: malformed JSON near '%s'", path, line, col, near);
}

static void load_text(mz_config *cfg, const char *source, const char *text, size_t len, errlog *e) {
    const char *end = text + strlen(text); /* a NUL inside the text stops here */
    cJSON *root = NULL;
    if (end == text + len) root = cJSON_ParseWithOpts(text, &end, 1); /* sets `end` to the error position */
    if (!root)
        report_malformed(e, source, text, len, end);
    else if (!cJSON_IsObject(root))
        err_add(e, "%s: the top level must be a JSON object of config keys", source);
    else
        walk(cfg, root, "", e, source);
    cJSON_Delete(root);
}

static void apply_override(mz_config *cfg, const char *arg, errlog *e) {
    const char *src = "command line";
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg) {
        err_add(e, "%s: expected key=value, got '%s'", src, arg);
        return;
    }
    char key[256];
    size_t n = (size_t)(eq - arg);
    if (n >= sizeof key) n = sizeof key - 1;
    memcpy(key, arg, n);
    key[n] = '\0';
    const mz_cfg_key *k = find_key(key);
    if (!k) {
        if (is_section(key))
            err_add(e, "%s: '%s' is a section: set one of its keys, e.g. '%s.<key>=...'", src, key, key);
        else
            report_unknown(e, src, key);
        return;
    }
    if (set_from_text(cfg, k, eq + 1) != 0) {
        char expected[256];
        describe_expected(k, expected, sizeof expected);
        err_add(e, "%s: %s: expected %s, got '%s'", src, k->key, expected, eq + 1);
    }
}

static int finish(errlog *e) {
    if (e->count > MAX_REPORTED) {
        int more = e->count - MAX_REPORTED;
        e->count = MAX_REPORTED; /* let the summary line through */
        err_add(e, "... and %d more problem%s", more, more == 1 ? "" : "s");
    }
    return e->count ? 2 : 0;
}

int mz_config_load_text(mz_config *cfg, const char *source, const char *text, size_t len, int n_overrides,
                        char *const *overrides, char *err, size_t err_len) {
    errlog e = {err, err_len, 0, 0};
    if (err && err_len) err[0] = '\0';
    mz_config_defaults(cfg);
    load_text(cfg, source, text, len, &e);
    for (int i = 0; i < n_overrides; i++) apply_override(cfg, overrides[i], &e);
    return finish(&e);
}

int mz_config_load(mz_config *cfg, const char *path, int n_overrides, char *const *overrides, char *err,
                   size_t err_len) {
    errlog e = {err, err_len, 0, 0};
    if (err && err_len) err[0] = '\0';
    mz_config_defaults(cfg);
    if (path) {
        char why[128];
        size_t len = 0;
        char *text = read_text_file(path, &len, why, sizeof why);
        if (text)
            load_text(cfg, path, text, len, &e);
        else
            err_add(&e, "%s: cannot read config: %s", path, why);
        free(text);
    }
    for (int i = 0; i < n_overrides; i++) apply_override(cfg, overrides[i], &e);
    return finish(&e);
}

/* ---- output ------------------------------------------------------------------ */

/* The object for the section path of `key` (created on demand) and the leaf name. */
static cJSON *section_of(cJSON *root, const char *key, const char **leaf) {
    cJSON *obj = root;
    const char *p = key;
    for (const char *dot = strchr(p, '.'); dot; dot = strchr(p, '.')) {
        char name[MZ_CFG_STR];
        size_t n = (size_t)(dot - p) < sizeof name - 1 ? (size_t)(dot - p) : sizeof name - 1;
        memcpy(name, p, n);
        name[n] = '\0';
        cJSON *next = cJSON_GetObjectItemCaseSensitive(obj, name);
        if (!next) {
            next = cJSON_AddObjectToObject(obj, name);
            MZ_CHECK(next, "cJSON: out of memory");
        }
        obj = next;
        p = dot + 1;
    }
    *leaf = p;
    return obj;
}

char *mz_config_to_json(const mz_config *cfg) {
    cJSON *root = cJSON_CreateObject();
    MZ_CHECK(root, "cJSON: out of memory");
    for (int i = 0; i < mz_config_schema_len; i++) {
        const mz_cfg_key *k = &mz_config_schema[i];
        const char *field = (const char *)cfg + k->offset;
        const char *leaf = NULL;
        cJSON *obj = section_of(root, k->key, &leaf);
        cJSON *item = NULL;
        switch (k->type) {
        case MZ_CFG_INT: item = cJSON_AddNumberToObject(obj, leaf, (double)*(const int64_t *)field); break;
        case MZ_CFG_FLOAT: item = cJSON_AddNumberToObject(obj, leaf, *(const double *)field); break;
        case MZ_CFG_BOOL: item = cJSON_AddBoolToObject(obj, leaf, *(const bool *)field); break;
        case MZ_CFG_ENUM:
            item = cJSON_AddStringToObject(obj, leaf, mz_config_enum_name(k->key, *(const int *)field));
            break;
        case MZ_CFG_STRING: item = cJSON_AddStringToObject(obj, leaf, field); break;
        }
        MZ_CHECK(item, "cJSON: out of memory adding '%s'", k->key);
    }
    char *text = cJSON_Print(root);
    MZ_CHECK(text, "cJSON_Print: out of memory");
    cJSON_Delete(root);
    return text;
}

static const char *type_name(const mz_cfg_key *k) {
    switch (k->type) {
    case MZ_CFG_INT: return "int";
    case MZ_CFG_FLOAT: return "float";
    case MZ_CFG_BOOL: return "bool";
    case MZ_CFG_ENUM: return "enum";
    case MZ_CFG_STRING: return "string";
    }
    return "?";
}

void mz_config_print_schema(FILE *f, bool markdown) {
    if (markdown) {
        fprintf(f, "| key | type | default | allowed | description |\n|---|---|---|---|---|\n");
    }
    for (int i = 0; i < mz_config_schema_len; i++) {
        const mz_cfg_key *k = &mz_config_schema[i];
        char allowed[256];
        describe_expected(k, allowed, sizeof allowed);
        if (markdown)
            fprintf(f, "| `%s` | %s | `%s` | %s | %s |\n", k->key, type_name(k), k->def, allowed, k->help);
        else
            fprintf(f, "%-22s %-6s default %-18s %s\n%-29s allowed: %s\n", k->key, type_name(k), k->def, k->help,
                    "", allowed);
    }
}
