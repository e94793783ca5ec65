// See mil_signature.h. Grammar facts: docs/internals/mil-format.md §4 (grammar), §5 (types), §7.5 (outputs).
#include "mil_signature.h"

#include <cctype>
#include <cstddef>
#include <map>

namespace anekit::fake_ane {
namespace {

bool is_ident_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
}

void skip_ws(const std::string& s, std::size_t& i) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i])) != 0) {
        ++i;
    }
}

// Index just past the bracket matching s[open] ('(' '<' '[' '{'), skipping string literals; npos if none.
std::size_t skip_balanced(const std::string& s, std::size_t open) {
    int depth = 0;
    for (std::size_t i = open; i < s.size(); ++i) {
        const char c = s[i];
        if (c == '"') {
            for (++i; i < s.size() && s[i] != '"'; ++i) {
                if (s[i] == '\\') {
                    ++i;
                }
            }
            continue;
        }
        if (c == '(' || c == '<' || c == '[' || c == '{') {
            ++depth;
        } else if (c == ')' || c == '>' || c == ']' || c == '}') {
            // "->" is an arrow, not a closing angle bracket.
            if (c == '>' && i > 0 && s[i - 1] == '-') {
                continue;
            }
            if (--depth == 0) {
                return i + 1;
            }
        }
    }
    return std::string::npos;
}

std::string trim(const std::string& s) {
    std::size_t b = 0;
    std::size_t e = s.size();
    while (b < e && std::isspace(static_cast<unsigned char>(s[b])) != 0) {
        ++b;
    }
    while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1])) != 0) {
        --e;
    }
    return s.substr(b, e - b);
}

// Bytes per element of the element types of docs/internals/mil-format.md §5.1; 0 for types without a byte size.
int dtype_bytes(const std::string& dt) {
    static const std::map<std::string, int> kSizes = {
        {"fp16", 2}, {"bf16", 2},   {"fp32", 4},  {"fp64", 8},  {"int8", 1},   {"uint8", 1},
        {"int16", 2}, {"uint16", 2}, {"int32", 4}, {"uint32", 4}, {"int64", 8}, {"uint64", 8},
        {"bool", 1},
    };
    const auto it = kSizes.find(dt);
    return it == kSizes.end() ? 0 : it->second;
}

// Fills dtype/nbytes from a type text such as "tensor<fp16, [1, 64, 1, 32]>" or "fp16".
bool parse_type(const std::string& type_text, TensorSpec& spec, std::string& error) {
    const std::string t = trim(type_text);
    if (t.rfind("tensor<", 0) != 0) {
        if (t.rfind("state<", 0) == 0) {
            return true;  // iOS18 state parameter: no surface size to check (docs/internals/mil-format.md §5.2).
        }
        // Dialect A writes rank-0 tensors as a bare element type (docs/internals/mil-format.md §5.2).
        spec.dtype = t;
        const int b = dtype_bytes(t);
        spec.nbytes = b > 0 ? b : -1;
        return true;
    }
    const std::size_t comma = t.find(',');
    const std::size_t lb = t.find('[');
    const std::size_t rb = t.find(']');
    if (comma == std::string::npos || lb == std::string::npos || rb == std::string::npos || rb < lb) {
        error = "cannot read tensor type '" + t + "'";
        return false;
    }
    spec.dtype = trim(t.substr(7, comma - 7));
    std::int64_t count = 1;
    bool known = true;
    std::string dims = t.substr(lb + 1, rb - lb - 1);
    std::size_t p = 0;
    while (p < dims.size()) {
        std::size_t q = dims.find(',', p);
        if (q == std::string::npos) {
            q = dims.size();
        }
        const std::string d = trim(dims.substr(p, q - p));
        p = q + 1;
        if (d.empty()) {
            continue;
        }
        if (d == "?") {
            known = false;
            continue;
        }
        for (char c : d) {
            if (std::isdigit(static_cast<unsigned char>(c)) == 0) {
                error = "bad dimension '" + d + "' in '" + t + "'";
                return false;
            }
        }
        count *= std::stoll(d);
    }
    const int b = dtype_bytes(spec.dtype);
    spec.nbytes = (known && b > 0) ? count * b : -1;
    return true;
}

// Finds the declared type of `name` in `body`: "<type> name =" or "<type> name," (multi-output ops).
bool find_declaration(const std::string& body, const std::string& name, TensorSpec& spec,
                      std::string& error) {
    std::size_t pos = 0;
    while ((pos = body.find("tensor<", pos)) != std::string::npos) {
        const std::size_t end = skip_balanced(body, pos + 6);
        if (end == std::string::npos) {
            break;
        }
        std::size_t i = end;
        skip_ws(body, i);
        const std::size_t id0 = i;
        while (i < body.size() && is_ident_char(body[i])) {
            ++i;
        }
        const std::string ident = body.substr(id0, i - id0);
        skip_ws(body, i);
        if (ident == name && i < body.size() && (body[i] == '=' || body[i] == ',')) {
            return parse_type(body.substr(pos, end - pos), spec, error);
        }
        pos = end;
    }
    error = "output '" + name + "' has no tensor declaration in func main";
    return false;
}

}  // namespace

bool parse_main_signature(const std::string& text, MainSignature& out, std::string& error) {
    out = MainSignature{};
    std::size_t pos = 0;
    for (;;) {
        pos = text.find("func main", pos);
        if (pos == std::string::npos) {
            error = "no 'func main' in the program";
            return false;
        }
        const std::size_t after = pos + 9;
        if (after < text.size() && !is_ident_char(text[after])) {
            pos = after;
            break;
        }
        pos = after;
    }
    skip_ws(text, pos);
    if (pos < text.size() && text[pos] == '<') {  // opset, e.g. <ios18>
        pos = skip_balanced(text, pos);
        if (pos == std::string::npos) {
            error = "unterminated '<' after 'func main'";
            return false;
        }
        skip_ws(text, pos);
    }
    if (pos >= text.size() || text[pos] != '(') {
        error = "expected '(' after 'func main'";
        return false;
    }
    const std::size_t params_end = skip_balanced(text, pos);
    if (params_end == std::string::npos) {
        error = "unterminated parameter list of func main";
        return false;
    }
    // Split the parameter list on top-level commas.
    const std::string params = text.substr(pos + 1, params_end - pos - 2);
    std::vector<std::string> pieces;
    int depth = 0;
    std::size_t start = 0;
    for (std::size_t i = 0; i < params.size(); ++i) {
        const char c = params[i];
        if (c == '(' || c == '<' || c == '[') {
            ++depth;
        } else if (c == ')' || c == '>' || c == ']') {
            --depth;
        } else if (c == ',' && depth == 0) {
            pieces.push_back(params.substr(start, i - start));
            start = i + 1;
        }
    }
    if (!trim(params.substr(start)).empty() || !pieces.empty()) {
        pieces.push_back(params.substr(start));
    }
    for (const std::string& raw : pieces) {
        const std::string p = trim(raw);
        std::size_t e = p.size();
        std::size_t b = e;
        while (b > 0 && is_ident_char(p[b - 1])) {
            --b;
        }
        if (b == e || b == 0) {
            error = "cannot read parameter '" + p + "' of func main";
            return false;
        }
        TensorSpec spec;
        spec.name = p.substr(b, e - b);
        if (!parse_type(p.substr(0, b), spec, error)) {
            return false;
        }
        out.inputs.push_back(spec);
    }
    // Optional attribute block ([FlexibleShapeInformation = ...], docs/internals/mil-format.md §7.6), then the body.
    pos = params_end;
    skip_ws(text, pos);
    if (pos < text.size() && text[pos] == '[') {
        pos = skip_balanced(text, pos);
        if (pos == std::string::npos) {
            error = "unterminated attribute block of func main";
            return false;
        }
        skip_ws(text, pos);
    }
    if (pos >= text.size() || text[pos] != '{') {
        error = "expected '{' to open the body of func main";
        return false;
    }
    const std::size_t body_end = skip_balanced(text, pos);
    if (body_end == std::string::npos) {
        error = "unterminated body of func main";
        return false;
    }
    const std::string body = text.substr(pos + 1, body_end - pos - 2);
    pos = body_end;
    skip_ws(text, pos);
    if (text.compare(pos, 2, "->") != 0) {
        error = "expected '-> (outputs)' after the body of func main";
        return false;
    }
    pos += 2;
    skip_ws(text, pos);
    if (pos >= text.size() || text[pos] != '(') {
        error = "expected '(' after '->'";
        return false;
    }
    const std::size_t close = text.find(')', pos);
    if (close == std::string::npos) {
        error = "unterminated output list of func main";
        return false;
    }
    const std::string names = text.substr(pos + 1, close - pos - 1);
    std::size_t p = 0;
    while (p <= names.size()) {
        std::size_t q = names.find(',', p);
        if (q == std::string::npos) {
            q = names.size();
        }
        const std::string name = trim(names.substr(p, q - p));
        p = q + 1;
        if (name.empty()) {
            if (q == names.size()) {
                break;
            }
            error = "empty name in the output list of func main";
            return false;
        }
        TensorSpec spec;
        spec.name = name;
        bool found = false;
        for (const TensorSpec& in : out.inputs) {
            if (in.name == name) {  // A function input can be returned directly (docs/internals/mil-format.md §7.5).
                spec = in;
                found = true;
                break;
            }
        }
        if (!found && !find_declaration(body, name, spec, error)) {
            return false;
        }
        out.outputs.push_back(spec);
    }
    if (out.outputs.empty()) {
        error = "func main has no outputs";
        return false;
    }
    return true;
}

}  // namespace anekit::fake_ane
