# Runs the .sg fuzzer for a bounded time on a fresh copy of the seed corpus
# (invoked by the `fuzz-sg` ctest entry with -DFUZZER, -DSEED_DIRS, -DDICT,
# -DWORK_DIR and -DMAX_TOTAL_TIME). Fails on any crash, leak or timeout.
set(corpus ${WORK_DIR}/corpus)
set(artifacts ${WORK_DIR}/artifacts)
file(REMOVE_RECURSE ${corpus})
file(MAKE_DIRECTORY ${corpus} ${artifacts})

# Copy the seeds under distinct names: two seed folders may hold the same name.
foreach(dir ${SEED_DIRS})
  get_filename_component(prefix ${dir} NAME)
  file(GLOB seeds ${dir}/*.sg)
  foreach(seed ${seeds})
    get_filename_component(name ${seed} NAME)
    configure_file(${seed} ${corpus}/${prefix}-${name} COPYONLY)
  endforeach()
endforeach()

execute_process(
  COMMAND ${FUZZER}
    -max_total_time=${MAX_TOTAL_TIME} -timeout=10 -rss_limit_mb=2048
    -dict=${DICT} -artifact_prefix=${artifacts}/ -print_final_stats=1
    ${corpus}
  RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  file(GLOB found ${artifacts}/*)
  message(FATAL_ERROR "the .sg fuzzer failed (exit status ${result}); "
                      "the failing input: ${found}. See tests/fuzz/README.md "
                      "to reproduce it and turn it into a regression test.")
endif()
