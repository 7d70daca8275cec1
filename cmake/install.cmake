# `cmake --install` and the Debian package (CPack DEB). Included by the top-level CMakeLists.
#
#   cmake --install build --prefix /usr          # as the unit expects: /usr/bin/bitsd
#   cd build && cpack -G DEB                      # bitsd_VERSION_amd64.deb
#
# Installs: bitsd and bits-upload (bin), the systemd unit (lib/systemd/system, its ExecStart
# pointing at the installed bitsd), /etc/bitsd/bitsd.json (the unit's configuration: data in
# /var/lib/bitsd, the unit's StateDirectory), the man page bitsd(8), and the README and the
# example configuration under share/doc/bitsd.
include(GNUInstallDirs)

install(TARGETS bitsd bits-upload RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The unit names /usr/bin/bitsd; another prefix (known only at install time: --prefix) gets
# its own path in the installed copy, written just before it is installed.
install(CODE "
  file(READ \"${PROJECT_SOURCE_DIR}/dist/systemd/bitsd.service\" unit_text)
  string(REPLACE \"ExecStart=/usr/bin/bitsd \" \"ExecStart=\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/bitsd \"
         unit_text \"\${unit_text}\")
  file(WRITE \"${PROJECT_BINARY_DIR}/dist/bitsd.service\" \"\${unit_text}\")
")
install(FILES ${PROJECT_BINARY_DIR}/dist/bitsd.service DESTINATION lib/systemd/system)

# The configuration lives in /etc whatever the prefix (the unit reads /etc/bitsd/bitsd.json).
install(FILES ${PROJECT_SOURCE_DIR}/dist/etc/bitsd.json DESTINATION /etc/bitsd
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)

# Man pages are installed compressed (Debian policy); gzip -n keeps the build reproducible.
find_program(GZIP_EXECUTABLE gzip REQUIRED)
add_custom_command(OUTPUT ${PROJECT_BINARY_DIR}/dist/bitsd.8.gz
  COMMAND ${GZIP_EXECUTABLE} -9n -c ${PROJECT_SOURCE_DIR}/dist/man/bitsd.8 > ${PROJECT_BINARY_DIR}/dist/bitsd.8.gz
  DEPENDS ${PROJECT_SOURCE_DIR}/dist/man/bitsd.8 VERBATIM)
add_custom_target(bitsd_man ALL DEPENDS ${PROJECT_BINARY_DIR}/dist/bitsd.8.gz)
install(FILES ${PROJECT_BINARY_DIR}/dist/bitsd.8.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)

install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${PROJECT_SOURCE_DIR}/config/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR}
        RENAME configuration.md)
install(FILES ${PROJECT_SOURCE_DIR}/config/bitsd.example.json
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)

# --- Debian package ---------------------------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME bitsd)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "bitsd maintainers <bitsd@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "BITS upload server")
set(CPACK_PACKAGE_DESCRIPTION
    "bitsd speaks the BITS upload protocol ([MC-BUP]) used by Windows' Background Intelligent\nTransfer Service and lands every uploaded file, byte-exact, in a destination directory,\nresuming after dropped connections and restarts. Includes the bits-upload client.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Run-time libraries from dpkg-shlibdeps (libspdlog1.10, libfmt9, libssl3, libstdc++6, libc6);
# adduser for the postinst.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/dist/debian/postinst
    ${PROJECT_SOURCE_DIR}/dist/debian/prerm
    ${PROJECT_SOURCE_DIR}/dist/debian/postrm
    ${PROJECT_SOURCE_DIR}/dist/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# The binaries are installed stripped: the package is for running, not debugging.
set(CPACK_STRIP_FILES ON)
include(CPack)
