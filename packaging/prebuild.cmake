# CPack pre-build script (CPACK_PRE_BUILD_SCRIPTS, packaging/cpack.cmake): runs on the staging
# tree, before the package and its md5sums are made, and does what debhelper's dh_strip and
# dh_compress would: the programs lose the .comment and .note sections too (CPACK_STRIP_FILES
# strips only the symbols; lintian: binary-has-unneeded-section), and manual pages are
# compressed with gzip -9n, whatever form the install rules gave them (lintian:
# uncompressed-manual-page is an error).
find_program(SG_STRIP strip REQUIRED)
file(GLOB programs LIST_DIRECTORIES false "${CPACK_TEMPORARY_DIRECTORY}/usr/bin/*"
     "${CPACK_TEMPORARY_DIRECTORY}/usr/sbin/*")
foreach(program IN LISTS programs)
  execute_process(COMMAND ${SG_STRIP} --remove-section=.comment --remove-section=.note "${program}"
                  COMMAND_ERROR_IS_FATAL ANY)
endforeach()
file(GLOB_RECURSE pages LIST_DIRECTORIES false "${CPACK_TEMPORARY_DIRECTORY}/*/share/man/*")
foreach(page IN LISTS pages)
  if(NOT page MATCHES "\\.gz$" AND NOT IS_SYMLINK "${page}")
    execute_process(COMMAND gzip -9n "${page}" COMMAND_ERROR_IS_FATAL ANY)
  endif()
endforeach()
