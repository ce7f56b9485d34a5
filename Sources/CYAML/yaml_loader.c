#include "yaml_loader.h"
#include "lazy_library.h"

#define FUNCTIONS(X) \
    X(yaml_parser_initialize) X(yaml_parser_delete) X(yaml_parser_set_input_string) X(yaml_parser_load) \
    X(yaml_document_delete) X(yaml_document_get_root_node) X(yaml_document_get_node)

LAZY_LIBRARY_DEFINE("libyaml-0.so.2", "libyaml-0-2", FUNCTIONS)

int ly_load(char *error, size_t size) { return lazy_library_load(&library, error, size); }

int ly_parser_initialize(yaml_parser_t *parser) { return p_yaml_parser_initialize(parser); }
void ly_parser_delete(yaml_parser_t *parser) { p_yaml_parser_delete(parser); }
void ly_parser_set_input_string(yaml_parser_t *parser, const unsigned char *input, size_t size) {
    p_yaml_parser_set_input_string(parser, input, size);
}
int ly_parser_load(yaml_parser_t *parser, yaml_document_t *document) { return p_yaml_parser_load(parser, document); }
void ly_document_delete(yaml_document_t *document) { p_yaml_document_delete(document); }
yaml_node_t *ly_document_get_root_node(yaml_document_t *document) { return p_yaml_document_get_root_node(document); }
yaml_node_t *ly_document_get_node(yaml_document_t *document, int index) { return p_yaml_document_get_node(document, index); }
