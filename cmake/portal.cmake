# The portal (DESIGN.md §11): `npm run build` in portal/ makes portal/dist,
# which zlh-api serves at / (--portal). Its npm packages come from the
# committed lockfile through scripts/install-deps.sh (npm ci); the build
# itself never downloads. Rebuilt when a source file changes.
find_program(NPM npm REQUIRED)
set(ZLH_PORTAL_DIR ${CMAKE_SOURCE_DIR}/portal)
file(GLOB_RECURSE _portal_sources CONFIGURE_DEPENDS
  ${ZLH_PORTAL_DIR}/src/*
  ${ZLH_PORTAL_DIR}/public/*)
set(_portal_stamp ${CMAKE_BINARY_DIR}/portal.stamp)
add_custom_command(
  OUTPUT ${_portal_stamp}
  COMMAND ${CMAKE_COMMAND} -E env CI=true ${NPM} run --silent build
  COMMAND ${CMAKE_COMMAND} -E touch ${_portal_stamp}
  WORKING_DIRECTORY ${ZLH_PORTAL_DIR}
  DEPENDS ${_portal_sources} ${ZLH_PORTAL_DIR}/index.html ${ZLH_PORTAL_DIR}/package.json
          ${ZLH_PORTAL_DIR}/package-lock.json ${ZLH_PORTAL_DIR}/vite.config.ts ${ZLH_PORTAL_DIR}/tsconfig.json
  COMMENT "Building the portal (portal/dist)"
  VERBATIM)
add_custom_target(portal ALL DEPENDS ${_portal_stamp})

# The portal's unit tests (portal/src/**/*_test.ts through vite, no browser).
find_program(NPM npm)
if(NPM)
  add_test(NAME portal_unit_test COMMAND ${NPM} test --silent WORKING_DIRECTORY ${ZLH_PORTAL_DIR})
  set_tests_properties(portal_unit_test PROPERTIES LABELS unit TIMEOUT 120)
endif()
