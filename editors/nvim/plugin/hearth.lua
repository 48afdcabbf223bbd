-- hearth does nothing until require('hearth').setup{...} (see README); only the highlight group
-- exists from the start, so colorschemes can restyle it.
vim.cmd('highlight default link HearthSuggestion Comment')
