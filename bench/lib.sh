# bench/lib.sh - what the benchmark scripts share; sourced, not run.

# make_qwen3_config SHARED OUT HIDDEN FF LAYERS HEADS KV_HEADS
# Qwen3-8B's config.json (SHARED/data/configs) scaled down for a fixture
# (pj-fixture --config OUT): hidden size, feed-forward size, layers (all
# full attention), attention and kv heads; embeddings tied.
make_qwen3_config() {
	sed -e "s/\"hidden_size\": [0-9]*/\"hidden_size\": $3/" \
	    -e "s/\"intermediate_size\": [0-9]*/\"intermediate_size\": $4/" \
	    -e "s/\"num_hidden_layers\": [0-9]*/\"num_hidden_layers\": $5/" \
	    -e "s/\"max_window_layers\": [0-9]*/\"max_window_layers\": $5/" \
	    -e "s/\"num_attention_heads\": [0-9]*/\"num_attention_heads\": $6/" \
	    -e "s/\"num_key_value_heads\": [0-9]*/\"num_key_value_heads\": $7/" \
	    -e 's/"tie_word_embeddings": false/"tie_word_embeddings": true/' \
	    "$1/data/configs/qwen3-8b.json" > "$2"
}
