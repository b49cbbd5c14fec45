# The Debian package (scripts/package.sh; README, "Install"), made by CPack's DEB generator
# from the same install rules as `cmake --install`: configure with -DCMAKE_INSTALL_PREFIX=/usr
# (so the configuration is /etc/senderguard and the units /lib/systemd/system), then cpack.
# The maintainer scripts and the copyright are in this folder.

# Debian's documentation files: the copyright, and the changelog (a native package, so
# changelog.gz), compressed as Debian wants (gzip -9n: no name or time in the header). Its date
# is SOURCE_DATE_EPOCH when set (scripts/package.sh sets the last commit's), so a rebuild of
# the same commit gives the same file.
string(TIMESTAMP sg_changelog_date "%a, %d %b %Y %H:%M:%S +0000" UTC)
set(sg_maintainer "senderguard maintainers <maintainers@users.noreply.h-seed-b06d64ab.example>")
file(CONFIGURE OUTPUT ${CMAKE_BINARY_DIR}/packaging/changelog CONTENT
"senderguard (${PROJECT_VERSION}) unstable; urgency=medium

  * Built from the senderguard sources (README.md in this directory).

 -- ${sg_maintainer}  ${sg_changelog_date}
" NEWLINE_STYLE UNIX)
execute_process(COMMAND gzip -9n -c ${CMAKE_BINARY_DIR}/packaging/changelog
                OUTPUT_FILE ${CMAKE_BINARY_DIR}/packaging/changelog.gz COMMAND_ERROR_IS_FATAL ANY)
install(FILES ${CMAKE_CURRENT_LIST_DIR}/copyright ${CMAKE_BINARY_DIR}/packaging/changelog.gz
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

# dpkg's conffiles: the two files in SG_CONFDIR. dpkg keeps an admin's edits on upgrade (and
# asks, or keeps them under --force-confold), removes them only on purge.
file(CONFIGURE OUTPUT ${CMAKE_BINARY_DIR}/packaging/conffiles CONTENT
"${SG_CONFDIR}/senderguard.conf
${SG_CONFDIR}/bounce-rules.conf
" NEWLINE_STYLE UNIX)
foreach(script postinst prerm postrm)
  configure_file(${CMAKE_CURRENT_LIST_DIR}/${script} ${CMAKE_BINARY_DIR}/packaging/${script} COPYONLY)
endforeach()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME senderguard)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${sg_maintainer}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "milter enforcing sending quotas, suppression and DMARC per account")
# The extended description, in lines under 80 columns (Debian policy 3.4.1); CPack indents
# them and turns the empty line into " .". Read here: CPack would XML-escape the text of
# CPACK_PACKAGE_DESCRIPTION_FILE (an apostrophe becomes "&apos;").
file(READ ${CMAKE_CURRENT_LIST_DIR}/description.txt CPACK_PACKAGE_DESCRIPTION)
string(STRIP "${CPACK_PACKAGE_DESCRIPTION}" CPACK_PACKAGE_DESCRIPTION)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # senderguard_VERSION_ARCH.deb
set(CPACK_DEBIAN_PACKAGE_SECTION mail)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Depends: the shared libraries actually linked, through dpkg-shlibdeps; plus adduser, which
# postinst calls.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "postfix | sendmail-bin")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_BINARY_DIR}/packaging/conffiles ${CMAKE_BINARY_DIR}/packaging/postinst
    ${CMAKE_BINARY_DIR}/packaging/prerm ${CMAKE_BINARY_DIR}/packaging/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)  # 0755 scripts, 0644 conffiles
set(CPACK_STRIP_FILES ON)
set(CPACK_PRE_BUILD_SCRIPTS ${CMAKE_CURRENT_LIST_DIR}/prebuild.cmake)  # as dh_strip, dh_compress
# Stage with DESTDIR, so the absolute destinations (/etc/senderguard, /lib/systemd/system) land
# in the package's tree and never on the building machine.
set(CPACK_SET_DESTDIR ON)
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
include(CPack)
