# Run at every build (cmake -P, target sg_version in lib/CMakeLists.txt): writes OUT from IN
# with SG_GIT_DESCRIBE = `git describe --always --dirty` of SOURCE_DIR, or "" when SOURCE_DIR
# is not the top of a git checkout (a tarball unpacked inside some other repository must not
# take that repository's name) or git is not installed. configure_file() leaves OUT untouched
# when the text is the same, so an unchanged checkout recompiles nothing.
set(SG_GIT_DESCRIBE "")
find_program(GIT_EXECUTABLE git)
if(GIT_EXECUTABLE)
  # --no-optional-locks: never take the index lock (a commit may run beside the build).
  execute_process(COMMAND ${GIT_EXECUTABLE} --no-optional-locks -C ${SOURCE_DIR} rev-parse --show-toplevel
                  OUTPUT_VARIABLE top RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(rc EQUAL 0)
    file(REAL_PATH "${top}" top)
    file(REAL_PATH "${SOURCE_DIR}" src)
    if(top STREQUAL src)
      execute_process(COMMAND ${GIT_EXECUTABLE} --no-optional-locks -C ${SOURCE_DIR} describe --always --dirty
                      OUTPUT_VARIABLE describe RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
      if(rc EQUAL 0)
        # Into a C string literal: keep what tag names and hashes are made of.
        string(REGEX REPLACE "[^A-Za-z0-9._+~-]" "_" SG_GIT_DESCRIBE "${describe}")
      endif()
    endif()
  endif()
endif()
configure_file(${IN} ${OUT} @ONLY)
