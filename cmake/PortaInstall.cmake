# Installation: libporta, libporta_ops, the public headers, the tools, the plugin SDK, and the
# files other build systems use to find Porta — a CMake package (find_package(Porta) gives the
# imported targets Porta::porta and Porta::ops; its component sdk gives Porta::backend_sdk) and
# pkg-config files (porta.pc, porta-ops.pc).
include(CMakePackageConfigHelpers)

set(PORTA_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/Porta)
# The system plugin folder: libporta loads every lib*.so in <its own folder>/porta/plugins
# (hal/runtime.cpp), so after installation that is ${CMAKE_INSTALL_LIBDIR}/porta/plugins.
set(PORTA_INSTALL_PLUGINDIR ${CMAKE_INSTALL_LIBDIR}/porta/plugins)
# The SDK's files that are not headers or libraries: the plugin link's version script, the
# plugin template, and the SDK guide with the kernel conventions.
set(PORTA_INSTALL_SDKDIR ${CMAKE_INSTALL_DATADIR}/porta/sdk)

install(TARGETS porta EXPORT PortaTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT development
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS porta_ops EXPORT PortaTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT development
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_SOURCE_DIR}/include/porta/porta.h
              ${PROJECT_SOURCE_DIR}/include/porta/porta_backend.h
              ${PROJECT_SOURCE_DIR}/include/porta/porta_ops.h
              ${PROJECT_SOURCE_DIR}/include/porta/porta_dlpack.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/porta COMPONENT development)

# The plugin SDK (component sdk): the helpers' headers (include/porta/sdk/), their static library
# and its usage requirements (Porta::backend_sdk), the SPIR-V validator (Porta::spirv_validate)
# and the backends' test scaffolding (Porta::backend_test_support, needs GoogleTest), each
# optional piece in an export file of its own that PortaConfig.cmake includes when its
# dependency is found.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/backends/common/include/porta/sdk
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/porta COMPONENT sdk)
install(TARGETS porta_backend_sdk EXPORT PortaSdkTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT sdk
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS porta_spirv_validate EXPORT PortaSdkSpirvTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT sdk)
set(PORTA_SDK_TEST_SUPPORT OFF)
if(TARGET porta_backend_test_support)
  set(PORTA_SDK_TEST_SUPPORT ON)
  install(TARGETS porta_backend_test_support EXPORT PortaSdkTestTargets
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT sdk)
  install(EXPORT PortaSdkTestTargets NAMESPACE Porta:: FILE PortaSdkTestTargets.cmake
          DESTINATION ${PORTA_INSTALL_CMAKEDIR} COMPONENT sdk)
endif()
install(EXPORT PortaSdkTargets NAMESPACE Porta:: FILE PortaSdkTargets.cmake
        DESTINATION ${PORTA_INSTALL_CMAKEDIR} COMPONENT sdk)
install(EXPORT PortaSdkSpirvTargets NAMESPACE Porta:: FILE PortaSdkSpirvTargets.cmake
        DESTINATION ${PORTA_INSTALL_CMAKEDIR} COMPONENT sdk)
install(FILES ${PORTA_PLUGIN_EXPORT_MAP} DESTINATION ${PORTA_INSTALL_SDKDIR} COMPONENT sdk)
install(FILES ${PROJECT_SOURCE_DIR}/docs/backend_sdk.md DESTINATION ${PORTA_INSTALL_SDKDIR}
        COMPONENT sdk)
install(FILES ${PROJECT_SOURCE_DIR}/conformance/kernels/README.md DESTINATION ${PORTA_INSTALL_SDKDIR}
        RENAME kernel_conventions.md COMPONENT sdk)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/samples/plugin_template DESTINATION ${PORTA_INSTALL_SDKDIR}
        COMPONENT sdk)
# The system plugin folder exists in every installation, empty until a backend package puts its
# plugin there.
install(DIRECTORY DESTINATION ${PORTA_INSTALL_PLUGINDIR} COMPONENT runtime)

foreach(tool IN ITEMS porta-info porta-bench porta-tune porta-cts porta-run)
  if(TARGET ${tool})
    # The tools find libporta next to them after installation, wherever the prefix is.
    set_property(TARGET ${tool} APPEND PROPERTY INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}")
    install(TARGETS ${tool} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT tools)
  endif()
endforeach()

install(EXPORT PortaTargets NAMESPACE Porta:: FILE PortaTargets.cmake
        DESTINATION ${PORTA_INSTALL_CMAKEDIR} COMPONENT development)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/PortaConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/PortaConfig.cmake
                              INSTALL_DESTINATION ${PORTA_INSTALL_CMAKEDIR}
                              PATH_VARS PORTA_INSTALL_PLUGINDIR PORTA_INSTALL_SDKDIR
                                        CMAKE_INSTALL_BINDIR)
# 0.x releases may break the API between minors, so a 0.1 request is not met by 0.2.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(porta_compatibility SameMinorVersion)
else()
  set(porta_compatibility SameMajorVersion)
endif()
write_basic_package_version_file(${PROJECT_BINARY_DIR}/PortaConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY ${porta_compatibility})
install(FILES ${PROJECT_BINARY_DIR}/PortaConfig.cmake ${PROJECT_BINARY_DIR}/PortaConfigVersion.cmake
        DESTINATION ${PORTA_INSTALL_CMAKEDIR} COMPONENT development)

# pkg-config: the file is written at install time, because `cmake --install --prefix` may choose
# another prefix than the one configured. Paths are relative to ${prefix}.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(PORTA_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  set(PORTA_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(PORTA_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(PORTA_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
# porta_dlpack.h includes <dlpack/dlpack.h>: its folder, unless the compiler searches it anyway.
if(PORTA_DLPACK_INTERFACE_DIR)
  set(PORTA_PC_DLPACK_CFLAGS " -I${PORTA_DLPACK_INTERFACE_DIR}")
else()
  set(PORTA_PC_DLPACK_CFLAGS "")
endif()
# Left as a placeholder now and filled in by the install step below.
set(PORTA_PC_PREFIX "@PORTA_PC_PREFIX@")
foreach(pc IN ITEMS porta porta-ops)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/${pc}.pc.in ${PROJECT_BINARY_DIR}/${pc}.pc.in @ONLY)
  install(CODE "
    set(PORTA_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
    set(porta_pc \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig/${pc}.pc\")
    message(STATUS \"Installing: \${porta_pc}\")
    configure_file(\"${PROJECT_BINARY_DIR}/${pc}.pc.in\" \"\${porta_pc}\" @ONLY)
    " COMPONENT development)
endforeach()
