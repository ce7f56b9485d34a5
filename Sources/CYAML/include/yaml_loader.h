// libyaml, loaded with dlopen the first time a lab file is read (`netctl lab up`), so that
// no other command pays for it. Each ly_ function is the libyaml function of the same name.
#pragma once
#include <stddef.h>
#include <yaml.h>

// 0 once libyaml is loaded; otherwise -1 with the reason in `error`.
int ly_load(char *error, size_t size);

int ly_parser_initialize(yaml_parser_t *parser);
void ly_parser_delete(yaml_parser_t *parser);
void ly_parser_set_input_string(yaml_parser_t *parser, const unsigned char *input, size_t size);
int ly_parser_load(yaml_parser_t *parser, yaml_document_t *document);
void ly_document_delete(yaml_document_t *document);
yaml_node_t *ly_document_get_root_node(yaml_document_t *document);
yaml_node_t *ly_document_get_node(yaml_document_t *document, int index);
