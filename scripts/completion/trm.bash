# bash completion for trm. Source it (`source scripts/completion/trm.bash`) or copy it to
# /etc/bash_completion.d/trm. Completes subcommands, their options, preset names after
# `trm train`, and file names elsewhere. tests/cli_smoke.sh sources it and checks the commands.

_trm_words() {
  case "$1" in
    "") echo "data train eval solve predict presets info demo bench report arc import export serve mcp plot --help --version" ;;
    data) echo "generate build show download" ;;
    "data generate") echo "sudoku maze" ;;
    "data build") echo "sudoku maze arc grid" ;;
    arc) echo "eval solve" ;;
    train) echo "--data --out --batch --micro-batch --epochs --eval-interval --max-steps --checkpoint-every --eval-examples --eval-batch --eval-halting --seed --stop-after --time-budget --log-every --skip-nonfinite --backend --no-resume --quiet --dry-run --json" ;;
    eval) echo "--checkpoint --data --split --examples --batch --halting --raw-weights --backend" ;;
    solve) echo "--checkpoint --file --halting --steps --json --backend --render" ;;
    plot) echo "--out --title" ;;
    serve) echo "--model --host --port --api-key --threads --max-body --backend --precision --max-batch --no-batching --batch-window-ms --max-queue --deadline-ms --max-samples --noise --no-halting-gate" ;;
    mcp) echo "--model --backend --precision --max-batch --no-batching --batch-window-ms --max-queue --deadline-ms --max-samples --noise --no-halting-gate" ;;
    "data build grid") echo "--train --test --out --width --aug --num-aug --seed --force" ;;
    "data generate sudoku") echo "--out --n --clues --train --test --aug --seed --force" ;;
    "data generate maze") echo "--out --side --min-path --train --test --seed --force" ;;
    *) echo "" ;;
  esac
}

_trm_presets() {
  # From the binary when it runs (the list stays current), else the names known when this was written.
  local names
  names=$(trm presets 2>/dev/null | awk '{print $1}' | grep -E '^[a-z0-9-]+$')
  [ -n "$names" ] || names="sudoku-mlp sudoku-att maze-att arc1-att arc2-att tiny-sudoku-mlp tiny-maze cpu-sudoku cpu-maze cpu-arc hrm-sudoku hrm-maze hrm-arc1 tiny-sudoku-hrm"
  echo "$names"
}

_trm() {
  local cur="${COMP_WORDS[COMP_CWORD]}" path="" w i
  # The chain of subcommands typed so far (words before the cursor that are not options).
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="${COMP_WORDS[i]}"
    [[ "$w" == -* ]] && break
    local next="${path:+$path }$w"
    if [[ " $(_trm_words "$path") " == *" $w "* ]]; then path="$next"; else break; fi
  done
  local words
  words="$(_trm_words "$path")"
  if [[ "$path" == "train" && "$cur" != -* && $COMP_CWORD -eq 2 ]]; then
    words="$(_trm_presets)"
  elif [[ "$cur" != -* && -n "$path" && "$words" == --* ]]; then
    COMPREPLY=($(compgen -f -- "$cur"))
    return 0
  fi
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}

complete -o default -F _trm trm
